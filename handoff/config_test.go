package handoff_test

import (
	"strings"
	"testing"
	"time"

	"github.com/kefu-gateway/kefu/handoff"
	"gopkg.in/yaml.v3"
)

func parseNode(t *testing.T, s string) *yaml.Node {
	t.Helper()
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(s), &n); err != nil {
		t.Fatal(err)
	}
	return &n
}

func TestConfigDefaults(t *testing.T) {
	cfg, err := handoff.LoadConfig(nil, "kefu.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Strategy != handoff.StrategyLeastBusy || cfg.TimeZone != "Asia/Shanghai" || cfg.AgentChannel != "wecom_app" ||
		cfg.QueueTimeout != 10*time.Minute || cfg.PresenceTTL != 30*time.Minute || !cfg.CSAT.Enabled || !cfg.LeaveMessage.Enabled ||
		cfg.Texts.Queued == "" {
		t.Fatalf("defaults = %+v", cfg)
	}
	cfg, err = handoff.LoadConfig(parseNode(t, `
agents:
  - { id: alice, wecom_user: zhangsan, wecom_app: corp }
queues:
  - { id: presales, skills: [sales] }
`), "kefu.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if a := cfg.Agents[0]; a.Name != "alice" || a.MaxConcurrent != 5 {
		t.Errorf("agent defaults: %+v", a)
	}
	if q := cfg.Queues[0]; q.Name != "presales" {
		t.Errorf("queue defaults: %+v", q)
	}
}

func TestConfigErrorsNameKeyAndLine(t *testing.T) {
	cases := []struct{ yaml, want string }{
		{"agents:\n  - { id: a, wecom_user: u, wecom_app: x, max_concurent: 3 }\n", `kefu.yaml:2: handoff.agents[0].max_concurent: unknown key (did you mean "max_concurrent"?)`},
		{"agents:\n  - { wecom_user: u, wecom_app: x }\n", "handoff.agents[0].id: REQUIRED"},
		{"agents:\n  - { id: a, wecom_app: x }\n", "handoff.agents[0].wecom_user: REQUIRED"},
		{"agents:\n  - { id: a, wecom_user: u }\n", "handoff.agents[0].wecom_app: REQUIRED"},
		{"agents:\n  - { id: a, wecom_user: u, wecom_app: x, max_concurrent: 0 }\n", "max_concurrent: must be between 1 and 1000"},
		{"agents:\n  - { id: a, wecom_user: u, wecom_app: x }\n  - { id: a, wecom_user: v, wecom_app: x }\n", `kefu.yaml:3: handoff.agents[1].id: duplicate agent id "a"`},
		{"agents:\n  - { id: a, wecom_user: u, wecom_app: x }\n  - { id: b, wecom_user: u, wecom_app: x }\n", `is already agent "a"`},
		{"queues:\n  - { id: q }\n  - { id: q }\n", `duplicate queue id "q"`},
		{"strategy: random\n", `kefu.yaml:1: handoff.strategy: must be least_busy or round_robin`},
		{"csat: { enabled: false, flow: survey }\n", `handoff.csat.flow: needs csat.enabled: true`},
		{"default_queue: nope\nqueues: [ { id: q } ]\n", `handoff.default_queue: no queue "nope"`},
		{"time_zone: Mars/Olympus\n", "handoff.time_zone: unknown time zone"},
		{"queue_timeout: 1ms\n", "handoff.queue_timeout: must be at least 100ms"},
		{"idle_reminder: 10m\nidle_resolve: 5m\n", "handoff.idle_resolve: must be longer than idle_reminder"},
		{"texts: { queued: '' }\n", "handoff.texts.queued: must not be empty"},
		{"command_aliases: { finish: [完成] }\n", "handoff.command_aliases.finish: unknown command"},
		{"command_aliases: { end: ['a b'] }\n", "must be one word"},
		{"kf_servicer: [ { servicer: x } ]\n", "handoff.kf_servicer[0].account: REQUIRED"},
		{"queues:\n  - id: q\n    business_hours:\n      weekly: [ { days: mon-fry, hours: '09:00-18:00' } ]\n", `kefu.yaml:4: handoff.queues[0].business_hours.weekly[0].days: unknown day "fry"`},
		{"queues:\n  - id: q\n    business_hours:\n      weekly: [ { days: mon, hours: '18:00-09:00' } ]\n", "ends before it starts"},
		{"queues:\n  - id: q\n    business_hours:\n      weekly: [ { days: mon, hours: '9-18' } ]\n", "want a time HH:MM"},
		{"business_hours: { holidays: [2026-13-01] }\n", "handoff.business_hours.holidays[0]: want a date"},
		{"business_hours: { workdays: ['2026-10-08..2026-10-01'] }\n", "handoff.business_hours.workdays[0]: want a range"},
		{"business_hours: { time_zone: Nowhere/Town }\n", "handoff.business_hours.time_zone: unknown time zone"},
	}
	for _, tc := range cases {
		_, err := handoff.LoadConfig(parseNode(t, tc.yaml), "kefu.yaml")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s\n  error = %v\n  want   %q", tc.yaml, err, tc.want)
		}
	}
}

func TestBusinessHours(t *testing.T) {
	cfg, err := handoff.LoadConfig(parseNode(t, `
business_hours:
  time_zone: Asia/Shanghai
  weekly:
    - { days: mon-fri, hours: ["09:00-12:00", "13:30-18:00"] }
    - { days: sat, hours: "10:00-16:00" }
  holidays: ["2026-10-01..2026-10-07", "2026-01-01"]
  workdays: ["2026-10-11"]
`), "kefu.yaml")
	if err != nil {
		t.Fatal(err)
	}
	h := cfg.BusinessHours
	cst := time.FixedZone("CST", 8*3600)
	at := func(y int, m time.Month, d, hh, mm int) time.Time { return time.Date(y, m, d, hh, mm, 0, 0, cst) }
	cases := []struct {
		t    time.Time
		open bool
		next time.Time
	}{
		{at(2026, 3, 2, 9, 0), true, at(2026, 3, 2, 9, 0)},               // Monday opening minute
		{at(2026, 3, 2, 8, 59), false, at(2026, 3, 2, 9, 0)},             // a minute early
		{at(2026, 3, 2, 12, 30), false, at(2026, 3, 2, 13, 30)},          // lunch break
		{at(2026, 3, 2, 17, 59), true, at(2026, 3, 2, 17, 59)},           //
		{at(2026, 3, 2, 18, 0), false, at(2026, 3, 3, 9, 0)},             // closing time
		{at(2026, 3, 7, 11, 0), true, at(2026, 3, 7, 11, 0)},             // Saturday
		{at(2026, 3, 7, 16, 30), false, at(2026, 3, 9, 9, 0)},            // Saturday evening → Monday
		{at(2026, 3, 8, 11, 0), false, at(2026, 3, 9, 9, 0)},             // Sunday
		{at(2026, 1, 1, 10, 0), false, at(2026, 1, 2, 9, 0)},             // New Year's Day (a Thursday)
		{at(2026, 10, 5, 10, 0), false, at(2026, 10, 8, 9, 0)},           // National Day week
		{at(2026, 10, 11, 10, 0), true, at(2026, 10, 11, 10, 0)},         // make-up Sunday opens like Monday
		{at(2026, 10, 11, 8, 0), false, at(2026, 10, 11, 9, 0)},          //
		{time.Date(2026, 3, 2, 1, 0, 0, 0, time.UTC), true, time.Time{}}, // 09:00 in Shanghai
	}
	for _, tc := range cases {
		if got := h.Open(tc.t); got != tc.open {
			t.Errorf("Open(%s) = %v, want %v", tc.t, got, tc.open)
		}
		next, ok := h.NextOpen(tc.t)
		if !tc.next.IsZero() && (!ok || !next.Equal(tc.next)) {
			t.Errorf("NextOpen(%s) = %s %v, want %s", tc.t, next, ok, tc.next)
		}
	}
	var none *handoff.BusinessHours
	if !none.Open(time.Now()) {
		t.Error("no business hours must mean always open")
	}
}

func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{"/switch 2", "切换 3", "/切换2", "标签 a，b、c", "/", "／结束", "hello", "/help end", "备注   ", "/switch -1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, ok := handoff.ParseCommand(s, nil)
		if !ok {
			return
		}
		if p.Cmd == "" {
			t.Fatalf("%q: a command without a name", s)
		}
		if p.Cmd == handoff.CmdSwitch && p.Problem == "" && p.Index < 1 {
			t.Fatalf("%q: switch to %d accepted", s, p.Index)
		}
	})
}

func FuzzParseRating(f *testing.F) {
	for _, s := range []string{"5", "５", "5分", "五星", "0", "6", "55", "五", " 3 ", "4星。"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, ok := handoff.ParseRating(s)
		if ok && (n < 1 || n > 5) {
			t.Fatalf("%q rated %d", s, n)
		}
	})
}

func FuzzBusinessHoursConfig(f *testing.F) {
	f.Add("mon-fri", "09:00-18:00", "2026-10-01..2026-10-07")
	f.Add("fri-mon", "00:00-24:00", "2026-01-01")
	f.Add("daily", "23:59-24:00", "")
	f.Fuzz(func(t *testing.T, days, hours, holiday string) {
		var bh handoff.BusinessHours
		node := &yaml.Node{}
		doc := map[string]any{"business_hours": map[string]any{
			"weekly": []any{map[string]any{"days": days, "hours": hours}}, "holidays": []string{holiday}}}
		b, err := yaml.Marshal(doc)
		if err != nil {
			return
		}
		if err := yaml.Unmarshal(b, node); err != nil {
			return
		}
		cfg, err := handoff.LoadConfig(node, "fuzz.yaml")
		if err != nil {
			return // rejected with a message: fine
		}
		bh = *cfg.BusinessHours
		now := time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)
		open := bh.Open(now)
		if next, ok := bh.NextOpen(now); ok && (next.Before(now) || (open && !next.Equal(now)) || !bh.Open(next)) {
			t.Fatalf("days %q hours %q: open %v, next open %s", days, hours, open, next)
		}
	})
}
