package store

import (
	"context"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// maxBatch bounds how many callers' commands go in one pipeline.
const maxBatch = 128

// maxInFlight is how many pipelines a batcher keeps in flight. With one,
// Redis idles while the gateway reads a batch's replies and assembles the
// next; with two it does not, and batches still form under load. (One
// oabench comparison of 1, 2 and 4 on 2 CPUs: two used the least CPU per
// message, by about a tenth, which is near the bench's run-to-run spread.)
const maxInFlight = 2

// Batcher sends the commands of concurrent callers to Redis together (group
// commit). A caller that finds fewer than maxInFlight pipelines in flight
// sends its commands at once, so an idle gateway waits for nothing; callers
// arriving meanwhile queue up, and their commands all go in the next
// pipeline. A
// busy gateway thus spends a fraction of a network round trip, and of the
// system calls on both ends, per caller instead of one each.
//
// Each caller's commands keep their order and get their own results and
// errors; commands of different callers share nothing but the trip. The
// zero value is not usable: call NewBatcher.
type Batcher struct {
	rdb redis.UniversalClient

	mu       sync.Mutex
	inFlight int
	queue    []*batchRequest
}

type batchRequest struct {
	ctx  context.Context
	cmds []redis.Cmder
	done chan struct{}
}

// NewBatcher returns a batcher sending through rdb. It starts nothing: a
// goroutine runs only while callers are queued.
func NewBatcher(rdb redis.UniversalClient) *Batcher { return &Batcher{rdb: rdb} }

// Exec sends cmds, typically a pipeline's queued commands (Pipeliner.Cmds),
// and returns once their results are in them. The returned error is the
// context's if ctx ended first (the commands may still run); otherwise read
// each command's own Err, as after Pipeliner.Exec.
func (b *Batcher) Exec(ctx context.Context, cmds []redis.Cmder) error {
	if len(cmds) == 0 {
		return nil
	}
	b.mu.Lock()
	if b.inFlight < maxInFlight && len(b.queue) == 0 {
		b.inFlight++
		b.mu.Unlock()
		b.send(ctx, cmds)
		b.next()
		return nil
	}
	r := &batchRequest{ctx: ctx, cmds: cmds, done: make(chan struct{})}
	b.queue = append(b.queue, r)
	b.mu.Unlock()
	select {
	case <-r.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Send is Exec without waiting: it queues cmds and returns a channel that
// is closed once their results are in them, so the caller can go on with
// other work meanwhile (a channel records a reply window while its
// message is answered).
func (b *Batcher) Send(ctx context.Context, cmds []redis.Cmder) <-chan struct{} {
	r := &batchRequest{ctx: ctx, cmds: cmds, done: make(chan struct{})}
	if len(cmds) == 0 {
		close(r.done)
		return r.done
	}
	b.mu.Lock()
	b.queue = append(b.queue, r)
	start := b.inFlight < maxInFlight
	if start {
		b.inFlight++
	}
	b.mu.Unlock()
	if start {
		go b.drain()
	}
	return r.done
}

// next hands what queued up meanwhile to a goroutine that sends it, or
// marks the batcher idle.
func (b *Batcher) next() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.queue) == 0 {
		b.inFlight--
		return
	}
	go b.drain()
}

// drain sends the queue, a batch at a time, until it is empty.
func (b *Batcher) drain() {
	for {
		b.mu.Lock()
		n := min(len(b.queue), maxBatch)
		if n == 0 {
			b.inFlight--
			b.mu.Unlock()
			return
		}
		batch := b.queue[:n:n]
		b.queue = b.queue[n:]
		if len(b.queue) == 0 {
			b.queue = nil
		}
		b.mu.Unlock()
		size := 0
		for _, r := range batch {
			size += len(r.cmds)
		}
		all := make([]redis.Cmder, 0, size)
		for _, r := range batch {
			all = append(all, r.cmds...)
		}
		ctx, cancel := batchContext(batch)
		b.send(ctx, all)
		cancel()
		for _, r := range batch {
			close(r.done)
		}
	}
}

func (b *Batcher) send(ctx context.Context, cmds []redis.Cmder) {
	pipe := b.rdb.Pipeline()
	_ = pipe.BatchProcess(ctx, cmds...)
	// Each command carries its own error; a caller reads those.
	_, _ = pipe.Exec(ctx)
}

// batchContext is the context a batch is sent with: not cancelled when one
// caller gives up (the others still wait), and bounded by the latest of the
// callers' deadlines (none if one of them has none: the client's read and
// write timeouts still apply).
func batchContext(batch []*batchRequest) (context.Context, context.CancelFunc) {
	base := context.WithoutCancel(batch[0].ctx)
	var latest time.Time
	for _, r := range batch {
		d, ok := r.ctx.Deadline()
		if !ok {
			return base, func() {}
		}
		if d.After(latest) {
			latest = d
		}
	}
	return context.WithDeadline(base, latest)
}
