package wxcrypto

import (
	"fmt"
	"strconv"
	"time"
)

// DefaultMaxSkew is the replay window adapters use when their configuration
// does not set one: a callback whose timestamp is further than this from the
// local clock is refused. WeChat retries a push three times within about 15 s
// (PROTOCOLS.md §1.2), so the window must stay well above that; five minutes
// also tolerates ordinary clock drift.
const DefaultMaxSkew = 5 * time.Minute

// CheckTime reports ErrStaleTimestamp when t is more than maxSkew before or
// after now. A maxSkew of zero or less disables the check.
func CheckTime(t, now time.Time, maxSkew time.Duration) error {
	if maxSkew <= 0 {
		return nil
	}
	// Compared on both sides rather than negated: Sub saturates beyond
	// about 292 years, and negating the smallest Duration overflows.
	d := now.Sub(t)
	if d < -maxSkew || d > maxSkew {
		return fmt.Errorf("checking timestamp: %w (off by %s, allowed %s)", ErrStaleTimestamp, d.Truncate(time.Second), maxSkew)
	}
	return nil
}

// CheckTimestamp parses a decimal Unix timestamp in seconds, as WeChat and
// WeCom put in the callback query, and applies CheckTime.
func CheckTimestamp(timestamp string, now time.Time, maxSkew time.Duration) error {
	if maxSkew <= 0 {
		return nil
	}
	sec, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return fmt.Errorf("checking timestamp: %w: timestamp is not a decimal number", ErrMalformedParam)
	}
	return CheckTime(time.Unix(sec, 0), now, maxSkew)
}
