package clock

import (
	"math"
	"testing"
	"time"
)

func TestSecondsSaturates(t *testing.T) {
	for _, tt := range []struct {
		n    int64
		want time.Duration
	}{
		{-5, 0}, {0, 0}, {7200, 2 * time.Hour},
		{int64(math.MaxInt64 / time.Second), time.Duration(math.MaxInt64/time.Second) * time.Second},
		{int64(math.MaxInt64/time.Second) + 1, math.MaxInt64}, // wrapped to a negative Duration
		{10_000_000_000_000, math.MaxInt64},                   // wrapped to a positive one
		{math.MaxInt64, math.MaxInt64},
	} {
		if got := Seconds(tt.n); got != tt.want {
			t.Errorf("Seconds(%d) = %v, want %v", tt.n, got, tt.want)
		}
	}
}
