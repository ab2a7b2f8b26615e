package router

import (
	"sync"
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
// process. A turn never waits for a worker: without an idle one it gets a
// new goroutine.
type turnWorkers struct {
	// idleFor overrides workerIdle (tests).
	idleFor time.Duration

	mu   sync.Mutex
	idle []chan func()
}

// run runs f on an idle worker, or on a new one.
func (w *turnWorkers) run(f func()) {
	w.mu.Lock()
	if n := len(w.idle); n > 0 {
		ch := w.idle[n-1]
		w.idle = w.idle[:n-1]
		w.mu.Unlock()
		ch <- f // buffered: never blocks
		return
	}
	w.mu.Unlock()
	go w.loop(f)
}

func (w *turnWorkers) loop(f func()) {
	ch := make(chan func(), 1)
	idleFor := w.idleFor
	if idleFor <= 0 {
		idleFor = workerIdle
	}
	timer := time.NewTimer(idleFor)
	defer timer.Stop()
	for {
		f()
		w.mu.Lock()
		if len(w.idle) >= maxIdleWorkers {
			w.mu.Unlock()
			return
		}
		w.idle = append(w.idle, ch)
		w.mu.Unlock()
		timer.Reset(idleFor)
		select {
		case f = <-ch:
			continue
		case <-timer.C:
		}
		// Idle for long: leave, unless a turn was handed over meanwhile.
		w.mu.Lock()
		for i, c := range w.idle {
			if c == ch {
				w.idle = append(w.idle[:i], w.idle[i+1:]...)
				w.mu.Unlock()
				return
			}
		}
		w.mu.Unlock()
		f = <-ch // run popped this worker and sends (or sent) a turn
	}
}
