package router

import (
	"context"
	"sync"
	"time"

	"github.com/kefu-gateway/kefu/adapters"
	"github.com/kefu-gateway/kefu/adapters/message"
)

type phase int

const (
	phaseOpen    phase = iota // nobody has claimed the replies yet
	phasePassive              // the adapter took them for its HTTP response
	phaseActive               // they go (or went) through the active API
)

// turn is the router's handling of one inbound message.
type turn struct {
	r    *Router
	msg  message.Message
	caps adapters.Capabilities
	// passiveUntil is when the adapter's HTTP response can no longer carry replies.
	passiveUntil time.Time

	known chan struct{} // closed once duplicate is known
	dup   bool
	done  chan struct{}

	mu      sync.Mutex
	phase   phase
	replies []message.Message // rendered for the channel, ready to send
	conv    *Conversation
	err     error
	// expiry sends the replies actively if the adapter has not taken them
	// by the passive deadline; stopped when it takes them.
	expiry *time.Timer
}

var _ adapters.Turn = (*turn)(nil)

func (t *turn) Duplicate() bool {
	<-t.known
	return t.dup
}

func (t *turn) Known() <-chan struct{} { return t.known }

func (t *turn) Done() <-chan struct{} { return t.done }

func (t *turn) Err() error {
	<-t.done
	return t.err
}

func (t *turn) TakePassive(ctx context.Context, wait time.Duration) ([]message.Message, bool) {
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-t.done:
	case <-timer.C:
	case <-ctx.Done():
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	select {
	case <-t.done:
		if t.phase == phaseOpen {
			t.phase = phasePassive
			if t.expiry != nil && t.expiry.Stop() {
				t.r.wg.Done()
			}
			return t.replies, true
		}
		return nil, false
	default:
		t.phase = phaseActive
		return nil, false
	}
}

func (t *turn) Return(unsent []message.Message) {
	if len(unsent) == 0 {
		return
	}
	t.mu.Lock()
	conv := t.conv
	t.mu.Unlock()
	t.r.outbox.sendActive(conv, t.msg, t.caps, unsent, 0)
}

// repliesGoActive reports whether the turn's replies surely go through
// the active API, so its commit numbers them: the channel has no passive
// response (the turn starts active), or the adapter has stopped waiting for
// one. A channel whose customers read the transcript sends nothing.
func (t *turn) repliesGoActive() bool {
	if t.caps.TranscriptDelivery {
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.phase == phaseActive
}

// finish publishes the turn's result and starts active delivery when the
// adapter will not carry the replies passively. seq is the outbound number
// the commit gave the replies (see repliesGoActive), or 0.
func (t *turn) finish(conv *Conversation, replies []message.Message, seq int64) {
	t.mu.Lock()
	t.conv = conv
	t.replies = replies
	close(t.done)
	ph := t.phase
	t.mu.Unlock()
	if t.caps.TranscriptDelivery {
		// Committing to the transcript delivered them.
		for _, m := range replies {
			t.r.metrics.MessagesOut.WithLabelValues(t.msg.Channel, string(m.Kind), "transcript").Inc()
		}
		return
	}
	if t.dup || len(replies) == 0 {
		return
	}
	switch {
	case ph == phaseActive:
		t.r.outbox.sendActive(conv, t.msg, t.caps, replies, seq)
	case ph == phaseOpen:
		// The adapter may still be waiting in TakePassive. If it has not
		// taken the replies when its response must go, send them actively.
		// The timer counts as work in flight, so Router.Close waits for it
		// and untaken replies still go out before the process exits.
		d := time.Until(t.passiveUntil)
		if d < 0 {
			d = 0
		}
		t.mu.Lock()
		if t.phase == phaseOpen {
			t.r.wg.Add(1)
			t.expiry = time.AfterFunc(d+50*time.Millisecond, func() {
				defer t.r.wg.Done()
				t.expirePassive()
			})
		}
		t.mu.Unlock()
	}
}

func (t *turn) expirePassive() {
	t.mu.Lock()
	if t.phase != phaseOpen {
		t.mu.Unlock()
		return
	}
	t.phase = phaseActive
	replies, conv := t.replies, t.conv
	t.mu.Unlock()
	t.r.outbox.sendActive(conv, t.msg, t.caps, replies, 0)
}
