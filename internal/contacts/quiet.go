package contacts

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// QuietHours is a daily local time range ("22:00" to "08:00") in which kefu
// starts no conversation. Start after End wraps past midnight; Start equal
// to End, or both empty, means none.
type QuietHours struct {
	Start string `yaml:"start" json:"start"`
	End   string `yaml:"end" json:"end"`
}

// parseClock reads "HH:MM" into minutes after midnight.
func parseClock(s string) (int, error) {
	h, m, ok := strings.Cut(strings.TrimSpace(s), ":")
	if !ok {
		return 0, fmt.Errorf("%q is not HH:MM", s)
	}
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if err1 != nil || err2 != nil || len(m) != 2 || hh < 0 || hh > 23 || mm < 0 || mm > 59 {
		return 0, fmt.Errorf("%q is not HH:MM (00:00 to 23:59)", s)
	}
	return hh*60 + mm, nil
}

func (q QuietHours) validate() error {
	if q.Start == "" && q.End == "" {
		return nil
	}
	if _, err := parseClock(q.Start); err != nil {
		return fmt.Errorf("start: %w", err)
	}
	if _, err := parseClock(q.End); err != nil {
		return fmt.Errorf("end: %w", err)
	}
	return nil
}

// Enabled reports whether there are quiet hours.
func (q QuietHours) Enabled() bool {
	s, err1 := parseClock(q.Start)
	e, err2 := parseClock(q.End)
	return err1 == nil && err2 == nil && s != e
}

// Until reports whether t falls in quiet hours in loc, and if so when they
// end (the first moment a message may go).
func (q QuietHours) Until(t time.Time, loc *time.Location) (time.Time, bool) {
	s, err1 := parseClock(q.Start)
	e, err2 := parseClock(q.End)
	if err1 != nil || err2 != nil || s == e {
		return time.Time{}, false
	}
	lt := t.In(loc)
	now := lt.Hour()*60 + lt.Minute()
	day := time.Date(lt.Year(), lt.Month(), lt.Day(), 0, 0, 0, 0, loc)
	at := func(d time.Time, minutes int) time.Time {
		return time.Date(d.Year(), d.Month(), d.Day(), minutes/60, minutes%60, 0, 0, loc)
	}
	switch {
	case s < e: // same day, e.g. 12:00–14:00
		if now >= s && now < e {
			return at(day, e), true
		}
	case now >= s: // wraps midnight, before midnight: ends tomorrow
		return at(day.AddDate(0, 0, 1), e), true
	case now < e: // wraps midnight, after midnight: ends today
		return at(day, e), true
	}
	return time.Time{}, false
}
