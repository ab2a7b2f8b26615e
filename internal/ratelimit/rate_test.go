package ratelimit

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestParseRate(t *testing.T) {
	for _, tc := range []struct {
		in       string
		want     Rate
		interval time.Duration
		err      string
	}{
		{in: "20/s", want: Rate{Events: 20, Per: time.Second}, interval: 50 * time.Millisecond},
		{in: "600/m", want: Rate{Events: 600, Per: time.Minute}, interval: 100 * time.Millisecond},
		{in: "1000/h", want: Rate{Events: 1000, Per: time.Hour}, interval: 3600 * time.Millisecond},
		{in: "5/10s", want: Rate{Events: 5, Per: 10 * time.Second}, interval: 2 * time.Second},
		{in: " 20 / s burst 50", want: Rate{Events: 20, Per: time.Second, Burst: 50}, interval: 50 * time.Millisecond},
		{in: "unlimited", want: Unlimited},
		{in: "", want: Unlimited},
		{in: "0/s", want: Unlimited},
		{in: "20", err: "want EVENTS/PER"},
		{in: "x/s", err: "not a whole number"},
		{in: "-1/s", err: "not a whole number"},
		{in: "5/fortnight", err: "period"},
		{in: "5/-1s", err: "period"},
		{in: "20/s burst 0", err: "burst"},
		{in: "2000000000/1ns", err: "per nanosecond"},
	} {
		got, err := ParseRate(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseRate(%q) error = %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want || got.Interval() != tc.interval {
			t.Errorf("ParseRate(%q) = %+v (interval %s), %v; want %+v (interval %s)", tc.in, got, got.Interval(), err, tc.want, tc.interval)
		}
		if again, err := ParseRate(got.String()); err != nil || again != got {
			t.Errorf("ParseRate(%q).String() = %q does not read back: %+v %v", tc.in, got.String(), again, err)
		}
	}
}

func TestRateJSON(t *testing.T) {
	var v struct {
		Rate Rate `json:"rate"`
	}
	if err := json.Unmarshal([]byte(`{"rate":"30/m"}`), &v); err != nil || v.Rate != (Rate{Events: 30, Per: time.Minute}) {
		t.Fatalf("decoded %+v, %v", v.Rate, err)
	}
	b, _ := json.Marshal(v)
	if string(b) != `{"rate":"30/m"}` {
		t.Errorf("encoded %s", b)
	}
	for _, bad := range []string{`{"rate":30}`, `{"rate":"30 per minute"}`} {
		if err := json.Unmarshal([]byte(bad), &v); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

func TestDefaultBurstIsOneSecondsWorth(t *testing.T) {
	for _, tc := range []struct {
		r    Rate
		want int
	}{
		{Rate{Events: 20, Per: time.Second}, 20},
		{Rate{Events: 600, Per: time.Minute}, 10},
		{Rate{Events: 1, Per: time.Hour}, 1},
		{Rate{Events: 20, Per: time.Second, Burst: 3}, 3},
	} {
		if got := tc.r.burst(); got != tc.want {
			t.Errorf("%s burst = %d, want %d", tc.r, got, tc.want)
		}
	}
}

func FuzzParseRate(f *testing.F) {
	for _, s := range []string{"20/s", "600/m", "5/10s", "20/s burst 5", "unlimited", "1/1ns", "9/h burst 9"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRate(s)
		if err != nil {
			return
		}
		if !r.IsUnlimited() && (r.Interval() <= 0 || r.burst() < 1) {
			t.Fatalf("ParseRate(%q) = %+v: interval %s burst %d", s, r, r.Interval(), r.burst())
		}
		again, err := ParseRate(r.String())
		if err != nil || again != r {
			t.Fatalf("ParseRate(%q) = %+v; its String %q reads back as %+v, %v", s, r, r.String(), again, err)
		}
	})
}
