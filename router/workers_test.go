package router

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Every function handed to the workers runs exactly once, and workers are
// reused rather than started for each.
func TestTurnWorkersRunEachTurnOnce(t *testing.T) {
	var w turnWorkers
	const turns = 2000
	var ran [turns]atomic.Int32
	var wg sync.WaitGroup
	for round := 0; round < 4; round++ {
		for i := round * turns / 4; i < (round+1)*turns/4; i++ {
			wg.Add(1)
			w.run(func() {
				defer wg.Done()
				ran[i].Add(1)
			})
		}
		wg.Wait()
		settled(t, &w)
	}
	for i := range ran {
		if n := ran[i].Load(); n != 1 {
			t.Fatalf("turn %d ran %d times", i, n)
		}
	}
	if idle := w.idle.Load(); idle == 0 || idle > maxIdleWorkers {
		t.Fatalf("%d idle workers after the turns, want between 1 and %d", idle, maxIdleWorkers)
	}
	// Each round of 500 may start new workers, but later rounds reuse up
	// to maxIdleWorkers of them: at most 500 + 3×(500−256) starts.
	if n := w.started.Load(); n > turns/4+3*(turns/4-maxIdleWorkers) {
		t.Fatalf("%d workers started for %d turns in rounds: they were not reused", n, turns)
	}
}

// settled waits until every worker that finished its turn is idle again
// (or left, past maxIdleWorkers), so the next round can reuse them.
func settled(t *testing.T, w *turnWorkers) {
	t.Helper()
	want := min(w.started.Load(), maxIdleWorkers)
	deadline := time.Now().Add(5 * time.Second)
	for {
		idle := w.idle.Load()
		if idle >= want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d workers idle after the round, want %d", idle, want)
		}
		time.Sleep(time.Millisecond)
	}
}

// Idle workers leave after a while; turns after that still run.
func TestTurnWorkersLeaveWhenIdle(t *testing.T) {
	w := turnWorkers{idleFor: 20 * time.Millisecond}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		w.run(wg.Done)
	}
	wg.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for {
		idle := w.idle.Load()
		if idle == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d workers still idle long after their idle time", idle)
		}
		time.Sleep(5 * time.Millisecond)
	}
	done := make(chan struct{})
	w.run(func() { close(done) })
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("a turn after the workers left never ran")
	}
}
