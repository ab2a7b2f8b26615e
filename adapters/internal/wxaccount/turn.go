package wxaccount

import (
	"time"

	"github.com/kefu-gateway/kefu/adapters"
)

// WaitDuplicate reports whether turn is a retry of a message already
// accepted, waiting for that at most until deadline: the router checks it
// after taking the conversation's lock, so a retry waits behind the slow
// turn of its original and must still be answered before WeChat gives up
// on it (PROTOCOLS.md §1.2). known is false when the deadline came first.
func WaitDuplicate(turn adapters.Turn, deadline time.Time) (dup, known bool) {
	select {
	case <-turn.Known():
		return turn.Duplicate(), true
	default:
	}
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	select {
	case <-turn.Known():
		return turn.Duplicate(), true
	case <-timer.C:
		return false, false
	}
}
