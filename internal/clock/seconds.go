package clock

import (
	"math"
	"time"
)

// Seconds converts a count of whole seconds a peer sent (a token's
// lifetime, a Retry-After) to a Duration. Counts beyond what a Duration
// holds (about 292 years) saturate instead of wrapping around to a short
// or negative one; zero and negative counts give zero.
func Seconds(n int64) time.Duration {
	switch {
	case n <= 0:
		return 0
	case n > int64(math.MaxInt64/time.Second):
		return math.MaxInt64
	}
	return time.Duration(n) * time.Second
}
