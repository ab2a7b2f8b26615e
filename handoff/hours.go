package handoff

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	// Business hours name IANA zones; embed the database so kefu works in
	// minimal containers without /usr/share/zoneinfo.
	_ "time/tzdata"

	"github.com/kefu-gateway/kefu/internal/config"
	"gopkg.in/yaml.v3"
)

// BusinessHours say when a queue's agents work. The zero value (no weekly
// periods) is open at every hour that is not a holiday.
//
//	business_hours:
//	  time_zone: Asia/Shanghai
//	  weekly:
//	    - { days: mon-fri, hours: ["09:00-12:00", "13:30-18:00"] }
//	    - { days: sat, hours: "10:00-16:00" }
//	  holidays: ["2026-10-01..2026-10-07", "2026-01-01"]
//	  workdays: ["2026-09-27"]   # make-up working days (调休): open with Monday's hours
type BusinessHours struct {
	// TimeZone is an IANA zone; empty = handoff.time_zone.
	TimeZone string `yaml:"time_zone"`
	// Weekly lists opening periods by weekday.
	Weekly []OpenPeriod `yaml:"weekly"`
	// Holidays are closed dates ("2026-01-01") or inclusive ranges
	// ("2026-10-01..2026-10-07").
	Holidays []string `yaml:"holidays"`
	// Workdays are dates (or ranges) that open with Monday's hours whatever
	// their weekday: the weekend days China moves around public holidays.
	Workdays []string `yaml:"workdays"`

	loc      *time.Location
	week     [7][]span
	holidays []dateRange
	workdays []dateRange
}

// OpenPeriod is one line of a weekly schedule.
type OpenPeriod struct {
	// Days: "mon-fri", "sat", "mon,wed,fri", "fri-mon" or "daily".
	Days string `yaml:"days"`
	// Hours: "09:00-18:00" or a list of such ranges; "24:00" ends a day.
	Hours Ranges `yaml:"hours"`
}

// Ranges is one "HH:MM-HH:MM" range or a list of them.
type Ranges []string

// UnmarshalYAML accepts a single string or a list.
func (r *Ranges) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*r = Ranges{n.Value}
		return nil
	}
	var list []string
	if err := n.Decode(&list); err != nil {
		return err
	}
	*r = list
	return nil
}

// span is an opening period in minutes after midnight, [from, to).
type span struct{ from, to int }

// date is a civil date as yyyymmdd.
type date int

type dateRange struct{ from, to date }

func civil(t time.Time) date { return date(t.Year()*10000 + int(t.Month())*100 + t.Day()) }

var weekdays = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

// validate compiles the schedule; defaultTZ applies when TimeZone is empty.
func (b *BusinessHours) validate(defaultTZ string) error {
	var errs []error
	tz := b.TimeZone
	if tz == "" {
		tz = defaultTZ
	}
	loc, err := time.LoadLocation(tz)
	if err != nil || tz == "" {
		errs = append(errs, config.Errorf("time_zone", "unknown time zone %q", tz))
		loc = time.UTC
	}
	b.loc = loc
	b.week = [7][]span{}
	for i, p := range b.Weekly {
		days, err := parseDays(p.Days)
		if err != nil {
			errs = append(errs, config.Errorf(fmt.Sprintf("weekly[%d].days", i), "%v", err))
		}
		if len(p.Hours) == 0 {
			errs = append(errs, config.Errorf(fmt.Sprintf("weekly[%d].hours", i), "REQUIRED: such as \"09:00-18:00\""))
		}
		for j, h := range p.Hours {
			s, err := parseSpan(h)
			if err != nil {
				errs = append(errs, config.Errorf(fmt.Sprintf("weekly[%d].hours[%d]", i, j), "%v", err))
				continue
			}
			for _, d := range days {
				b.week[d] = append(b.week[d], s)
			}
		}
	}
	b.holidays, b.workdays = nil, nil
	for i, h := range b.Holidays {
		r, err := parseDateRange(h)
		if err != nil {
			errs = append(errs, config.Errorf(fmt.Sprintf("holidays[%d]", i), "%v", err))
			continue
		}
		b.holidays = append(b.holidays, r)
	}
	for i, h := range b.Workdays {
		r, err := parseDateRange(h)
		if err != nil {
			errs = append(errs, config.Errorf(fmt.Sprintf("workdays[%d]", i), "%v", err))
			continue
		}
		b.workdays = append(b.workdays, r)
	}
	return config.Join(errs...)
}

// Open reports whether t falls inside the business hours.
func (b *BusinessHours) Open(t time.Time) bool {
	if b == nil {
		return true
	}
	lt := t.In(b.location())
	min := lt.Hour()*60 + lt.Minute()
	for _, s := range b.spansOn(lt) {
		if min >= s.from && min < s.to {
			return true
		}
	}
	return false
}

// NextOpen returns when the business hours next open at or after t, looking
// up to two weeks ahead; ok is false when they never do in that time.
func (b *BusinessHours) NextOpen(t time.Time) (at time.Time, ok bool) {
	if b.Open(t) {
		return t, true
	}
	loc := b.location()
	lt := t.In(loc)
	day := time.Date(lt.Year(), lt.Month(), lt.Day(), 0, 0, 0, 0, loc)
	for i := 0; i < 15; i++ {
		d := day.AddDate(0, 0, i)
		for _, s := range b.spansOn(d) {
			// Closed now, so every period of today that started has ended:
			// the next opening is the earliest start still ahead.
			start := time.Date(d.Year(), d.Month(), d.Day(), s.from/60, s.from%60, 0, 0, loc)
			if !start.Before(lt) && (!ok || start.Before(at)) {
				at, ok = start, true
			}
		}
		if ok {
			return at, true
		}
	}
	return time.Time{}, false
}

func (b *BusinessHours) location() *time.Location {
	if b.loc == nil {
		return time.UTC
	}
	return b.loc
}

// spansOn returns the opening periods of lt's local date.
func (b *BusinessHours) spansOn(lt time.Time) []span {
	d := civil(lt)
	for _, r := range b.holidays {
		if d >= r.from && d <= r.to {
			return nil
		}
	}
	if !b.scheduled() {
		return []span{{0, 24 * 60}}
	}
	for _, r := range b.workdays {
		if d >= r.from && d <= r.to {
			return b.week[time.Monday]
		}
	}
	return b.week[lt.Weekday()]
}

func (b *BusinessHours) scheduled() bool { return len(b.Weekly) > 0 }

func parseDays(s string) ([]time.Weekday, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "daily" || s == "everyday" {
		return []time.Weekday{0, 1, 2, 3, 4, 5, 6}, nil
	}
	if s == "" {
		return nil, fmt.Errorf("REQUIRED: such as mon-fri, sat, mon,wed or daily")
	}
	var out []time.Weekday
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		from, to, isRange := strings.Cut(part, "-")
		a, ok := weekdays[from]
		if !ok {
			return nil, fmt.Errorf("unknown day %q (use mon, tue, wed, thu, fri, sat, sun)", from)
		}
		if !isRange {
			out = append(out, a)
			continue
		}
		z, ok := weekdays[to]
		if !ok {
			return nil, fmt.Errorf("unknown day %q (use mon, tue, wed, thu, fri, sat, sun)", to)
		}
		for d := a; ; d = (d + 1) % 7 {
			out = append(out, d)
			if d == z {
				break
			}
		}
	}
	return out, nil
}

func parseSpan(s string) (span, error) {
	from, to, ok := strings.Cut(strings.TrimSpace(s), "-")
	if !ok {
		return span{}, fmt.Errorf("want HH:MM-HH:MM, got %q", s)
	}
	a, err := parseClock(from)
	if err != nil {
		return span{}, err
	}
	z, err := parseClock(to)
	if err != nil {
		return span{}, err
	}
	if z <= a {
		return span{}, fmt.Errorf("%q ends before it starts (write overnight hours as two ranges on two days)", s)
	}
	return span{a, z}, nil
}

func parseClock(s string) (int, error) {
	s = strings.TrimSpace(s)
	h, m, ok := strings.Cut(s, ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if !ok || err1 != nil || err2 != nil || len(m) != 2 || hh < 0 || mm < 0 || mm > 59 || hh > 24 || (hh == 24 && mm != 0) {
		return 0, fmt.Errorf("want a time HH:MM between 00:00 and 24:00, got %q", s)
	}
	return hh*60 + mm, nil
}

func parseDateRange(s string) (dateRange, error) {
	from, to, isRange := strings.Cut(strings.TrimSpace(s), "..")
	a, err := time.Parse("2006-01-02", strings.TrimSpace(from))
	if err != nil {
		return dateRange{}, fmt.Errorf("want a date YYYY-MM-DD or a range YYYY-MM-DD..YYYY-MM-DD, got %q", s)
	}
	z := a
	if isRange {
		z, err = time.Parse("2006-01-02", strings.TrimSpace(to))
		if err != nil || z.Before(a) {
			return dateRange{}, fmt.Errorf("want a range YYYY-MM-DD..YYYY-MM-DD that ends after it starts, got %q", s)
		}
	}
	return dateRange{civil(a), civil(z)}, nil
}
