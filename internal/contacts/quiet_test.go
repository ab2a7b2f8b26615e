package contacts

import (
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func TestQuietHoursUntil(t *testing.T) {
	sh, _ := time.LoadLocation("Asia/Shanghai")
	ny, _ := time.LoadLocation("America/New_York")
	night := QuietHours{Start: "22:00", End: "08:00"}
	lunch := QuietHours{Start: "12:00", End: "13:30"}
	at := func(loc *time.Location, y int, m time.Month, d, h, min int) time.Time {
		return time.Date(y, m, d, h, min, 0, 0, loc)
	}
	for _, tc := range []struct {
		name  string
		q     QuietHours
		t     time.Time
		loc   *time.Location
		quiet bool
		until time.Time
	}{
		{"evening", night, at(sh, 2025, 3, 10, 23, 15), sh, true, at(sh, 2025, 3, 11, 8, 0)},
		{"at start", night, at(sh, 2025, 3, 10, 22, 0), sh, true, at(sh, 2025, 3, 11, 8, 0)},
		{"after midnight", night, at(sh, 2025, 3, 11, 2, 0), sh, true, at(sh, 2025, 3, 11, 8, 0)},
		{"at end", night, at(sh, 2025, 3, 11, 8, 0), sh, false, time.Time{}},
		{"daytime", night, at(sh, 2025, 3, 11, 15, 0), sh, false, time.Time{}},
		// 15:30 UTC is 23:30 in Shanghai but 11:30 in New York (EDT).
		{"the contact's zone decides", night, time.Date(2025, 7, 1, 15, 30, 0, 0, time.UTC), ny, false, time.Time{}},
		{"same-day range", lunch, at(sh, 2025, 3, 10, 12, 45), sh, true, at(sh, 2025, 3, 10, 13, 30)},
		{"same-day range, outside", lunch, at(sh, 2025, 3, 10, 13, 30), sh, false, time.Time{}},
		// The night DST starts in New York (2025-03-09 02:00 → 03:00).
		{"across a DST change", night, at(ny, 2025, 3, 8, 23, 0), ny, true, at(ny, 2025, 3, 9, 8, 0)},
		{"none", QuietHours{}, at(sh, 2025, 3, 10, 23, 0), sh, false, time.Time{}},
		{"start equals end", QuietHours{Start: "08:00", End: "08:00"}, at(sh, 2025, 3, 10, 8, 0), sh, false, time.Time{}},
	} {
		until, quiet := tc.q.Until(tc.t, tc.loc)
		if quiet != tc.quiet || !until.Equal(tc.until) {
			t.Errorf("%s: Until(%s) = %s, %v; want %s, %v", tc.name, tc.t, until, quiet, tc.until, tc.quiet)
		}
	}
}

func TestConfigDecode(t *testing.T) {
	decode := func(y string) (Config, error) {
		var n yaml.Node
		if err := yaml.Unmarshal([]byte(y), &n); err != nil {
			t.Fatal(err)
		}
		var node *yaml.Node
		if len(n.Content) > 0 {
			node = n.Content[0]
		}
		return DecodeConfig(node, "kefu.yaml")
	}
	cfg, err := decode("")
	if err != nil || cfg.Timezone != "Asia/Shanghai" || cfg.Location().String() != "Asia/Shanghai" || !cfg.QuietHours.Enabled() {
		t.Fatalf("defaults: %+v %v", cfg, err)
	}
	cfg, err = decode("timezone: Europe/Berlin\nquiet_hours: { start: '', end: '' }\nopt_out: { keywords: [QUIT] }\n")
	if err != nil || cfg.QuietHours.Enabled() || cfg.OptOut.Classify("quit") != OptOut || cfg.OptOut.Classify("TD") != OptNone {
		t.Fatalf("custom: %+v %v", cfg, err)
	}
	for _, tc := range []struct{ y, want string }{
		{"timezone: Mars/Base\n", "kefu.yaml:1: contacts.timezone: unknown time zone"},
		{"quiet_hours: { start: '25:00', end: '08:00' }\n", "contacts.quiet_hours: start: \"25:00\" is not HH:MM"},
		{"opt_out: { keywords: [] }\n", "contacts.opt_out.keywords: must list at least one"},
		{"opt_out: { opt_in_keywords: [TD] }\n", "is also an opt-out keyword"},
		{"max_tags: 0\n", "contacts.max_tags"},
		{"timezon: UTC\n", `did you mean "timezone"`},
	} {
		if _, err := decode(tc.y); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.y, err, tc.want)
		}
	}
}
