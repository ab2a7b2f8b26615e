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

// ActionTime is when the customer acted, for the reply window their push
// opens (window.Arming.At): the push's CreateTime, which is the same on each
// of WeChat's retries, so a retry arms the grant its first delivery armed
// and hands back no quota — even after a newer message renewed the grant in
// between. A time older than maxSkew (a replayed or hand-made payload)
// gives zero: the grant then runs from now. So does, in the tracker, a time
// ahead of kefu's clock; the retry of such a push is caught by its source
// (window.Arming.Source) only while no newer message came in between.
// CreateTime counts seconds, so two messages within one second open one
// grant, which errs on the side of sending less.
func ActionTime(created, now time.Time, maxSkew time.Duration) time.Time {
	if created.IsZero() || created.Before(now.Add(-maxSkew)) {
		return time.Time{}
	}
	return created
}
