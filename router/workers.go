package router

import (
	"sync"
	"sync/atomic"
	"time"
)

// maxIdleWorkers bounds the goroutines kept waiting for the next turn.
const maxIdleWorkers = 256

// workerIdle is how long a worker waits for another turn before it exits.
const workerIdle = 10 * time.Second

// turnWorkers runs turns on goroutines kept for reuse. A fresh goroutine
// starts with a small stack that grows, and is copied, several times on
// its way down a turn (Redis client, flows, JSON); a reused one has grown
// already. In the oabench CPU profile stack growth was about 4% of the
// process. A turn never waits for a worker: an idle one takes it from an
// unbuffered channel, which succeeds only when one is waiting there;
// without one the turn gets a new goroutine.
type turnWorkers struct {
	// idleFor overrides workerIdle (tests).
	idleFor time.Duration

	once sync.Once
	work chan func()
	// idle counts the workers waiting for a turn.
	idle atomic.Int64
	// started counts the worker goroutines started.
	started atomic.Int64
}

// run runs f on an idle worker, or on a new one.
func (w *turnWorkers) run(f func()) {
	w.once.Do(func() { w.work = make(chan func()) })
	select {
	case w.work <- f:
	default:
		w.started.Add(1)
		go w.loop(f)
	}
}

func (w *turnWorkers) loop(f func()) {
	idleFor := w.idleFor
	if idleFor <= 0 {
		idleFor = workerIdle
	}
	timer := time.NewTimer(idleFor)
	defer timer.Stop()
	for {
		f()
		if w.idle.Add(1) > maxIdleWorkers {
			w.idle.Add(-1)
			return
		}
		timer.Reset(idleFor)
		select {
		case f = <-w.work:
			w.idle.Add(-1)
		case <-timer.C:
			w.idle.Add(-1)
			return
		}
	}
}
