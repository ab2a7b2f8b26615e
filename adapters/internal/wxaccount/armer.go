package wxaccount

import (
	"context"
	"sync"

	"github.com/kefu-gateway/kefu/adapters/internal/window"
)

// maxArmBatch bounds one pipeline of grants.
const maxArmBatch = 256

// Armer records reply-window grants for inbound messages with group
// commit: while one pipeline of grants is in flight, the grants of the
// messages arriving meanwhile collect and go in the next, so a busy account
// spends a fraction of a Redis round trip per message instead of one.
// Until Run starts (and after it ends) Arm records directly; when the queue
// is full, Arm waits for room (at most one round trip).
type Armer struct {
	tr   *window.Tracker
	reqs chan armRequest
	// mu orders queueing against Run stopping: once running is false
	// nothing more is queued, so the final drain misses nothing.
	mu      sync.RWMutex
	running bool
	// stopping is closed when Run starts to stop, releasing senders
	// waiting for room in a full queue.
	stopping chan struct{}
}

type armRequest struct {
	arm  window.Arming
	done chan error
}

// NewArmer returns an armer on tr. It does no I/O.
func NewArmer(tr *window.Tracker) *Armer {
	return &Armer{tr: tr, reqs: make(chan armRequest, maxArmBatch)}
}

// Arm records g for key and returns a channel that yields the outcome once
// it is stored. The caller goes on meanwhile and waits before anything may
// send on the grant.
func (a *Armer) Arm(ctx context.Context, key string, g window.Grant) <-chan error {
	done := make(chan error, 1)
	a.mu.RLock()
	queued := false
	if a.running {
		select {
		case a.reqs <- armRequest{arm: window.Arming{Key: key, Grant: g}, done: done}:
			queued = true
		case <-a.stopping:
		}
	}
	a.mu.RUnlock()
	if !queued {
		done <- a.tr.Arm(ctx, key, g)
	}
	return done
}

// Run commits the queued grants until ctx ends.
func (a *Armer) Run(ctx context.Context) {
	a.mu.Lock()
	a.running, a.stopping = true, make(chan struct{})
	a.mu.Unlock()
	batch := make([]armRequest, 0, maxArmBatch)
	arms := make([]window.Arming, 0, maxArmBatch)
	for {
		select {
		case <-ctx.Done():
			close(a.stopping)
			a.mu.Lock()
			a.running = false
			a.mu.Unlock()
			a.drain(context.WithoutCancel(ctx))
			return
		case r := <-a.reqs:
			batch = append(batch[:0], r)
		}
	fill:
		for len(batch) < maxArmBatch {
			select {
			case r := <-a.reqs:
				batch = append(batch, r)
			default:
				break fill
			}
		}
		arms = arms[:0]
		for _, r := range batch {
			arms = append(arms, r.arm)
		}
		for i, err := range a.tr.ArmMany(ctx, arms) {
			batch[i].done <- err
		}
	}
}

// drain records what is still queued when Run stops.
func (a *Armer) drain(ctx context.Context) {
	for {
		select {
		case r := <-a.reqs:
			r.done <- a.tr.Arm(ctx, r.arm.Key, r.arm.Grant)
		default:
			return
		}
	}
}
