// Package ratelimit shares send rate limits between every kefu process
// through Redis. Limits use the generic cell rate algorithm (GCRA): one
// number per bucket (its theoretical arrival time), updated by a Lua script,
// so a bucket costs a few bytes and one round trip per request, and any
// number of processes draw from it fairly.
package ratelimit

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Rate is Events per Per, letting Burst events through at once. The zero
// Rate is unlimited.
type Rate struct {
	Events int
	Per    time.Duration
	Burst  int
}

// Unlimited is the rate that never waits.
var Unlimited = Rate{}

// IsUnlimited reports whether r lets everything through.
func (r Rate) IsUnlimited() bool { return r.Events <= 0 || r.Per <= 0 }

// Interval is the time between two events at the sustained rate.
func (r Rate) Interval() time.Duration {
	if r.IsUnlimited() {
		return 0
	}
	return r.Per / time.Duration(r.Events)
}

// burst is the number of events let through at once: Burst when set, else
// one second's worth of the rate (at least 1).
func (r Rate) burst() int {
	if r.Burst > 0 {
		return r.Burst
	}
	perSecond := float64(r.Events) / r.Per.Seconds()
	return max(1, int(math.Ceil(perSecond)))
}

// String formats r as ParseRate reads it ("20/s", "600/m", "5/10s").
func (r Rate) String() string {
	if r.IsUnlimited() {
		return "unlimited"
	}
	per := ""
	switch r.Per {
	case time.Second:
		per = "s"
	case time.Minute:
		per = "m"
	case time.Hour:
		per = "h"
	default:
		per = r.Per.String()
	}
	s := strconv.Itoa(r.Events) + "/" + per
	if r.Burst > 0 {
		s += " burst " + strconv.Itoa(r.Burst)
	}
	return s
}

// ParseRate reads a rate written as "EVENTS/PER[ burst N]": "20/s",
// "600/m", "1000/h", "5/10s", "20/s burst 50"; "unlimited", "0" and ""
// mean no limit.
func ParseRate(s string) (Rate, error) {
	s = strings.TrimSpace(s)
	switch strings.ToLower(s) {
	case "", "0", "unlimited", "none":
		return Unlimited, nil
	}
	spec, burstPart, hasBurst := strings.Cut(s, " burst ")
	num, per, ok := strings.Cut(strings.TrimSpace(spec), "/")
	if !ok {
		return Rate{}, fmt.Errorf("rate %q: want EVENTS/PER such as 20/s, 600/m or 5/10s", s)
	}
	n, err := strconv.Atoi(strings.TrimSpace(num))
	if err != nil || n < 0 {
		return Rate{}, fmt.Errorf("rate %q: %q is not a whole number of events", s, num)
	}
	var d time.Duration
	switch per = strings.TrimSpace(per); per {
	case "s", "sec", "second":
		d = time.Second
	case "m", "min", "minute":
		d = time.Minute
	case "h", "hour":
		d = time.Hour
	default:
		d, err = time.ParseDuration(per)
		if err != nil || d <= 0 {
			return Rate{}, fmt.Errorf("rate %q: period %q must be s, m, h or a duration such as 10s", s, per)
		}
	}
	r := Rate{Events: n, Per: d}
	if n == 0 {
		return Unlimited, nil
	}
	if r.Interval() <= 0 {
		return Rate{}, fmt.Errorf("rate %q: more than one event per nanosecond", s)
	}
	if hasBurst {
		b, err := strconv.Atoi(strings.TrimSpace(burstPart))
		if err != nil || b < 1 {
			return Rate{}, fmt.Errorf("rate %q: burst must be a whole number ≥ 1", s)
		}
		r.Burst = b
	}
	return r, nil
}

// UnmarshalYAML reads a rate string.
func (r *Rate) UnmarshalYAML(n *yaml.Node) error {
	// A *yaml.TypeError carries the line, so config.Decode can point at it.
	if n.Kind != yaml.ScalarNode {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: rate must be a string such as 20/s", n.Line)}}
	}
	v, err := ParseRate(n.Value)
	if err != nil {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %v", n.Line, err)}}
	}
	*r = v
	return nil
}

// MarshalYAML writes the rate string.
func (r Rate) MarshalYAML() (any, error) { return r.String(), nil }

// UnmarshalJSON reads a rate string (or null for unlimited).
func (r *Rate) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*r = Unlimited
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return errors.New(`rate must be a string such as "20/s"`)
	}
	v, err := ParseRate(s)
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// MarshalJSON writes the rate string.
func (r Rate) MarshalJSON() ([]byte, error) { return json.Marshal(r.String()) }
