package router

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func idleWorkers(w *turnWorkers) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.idle)
}

// waitIdle waits until want workers are idle.
func waitIdle(t *testing.T, w *turnWorkers, want int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for idleWorkers(w) != want {
		if time.Now().After(deadline) {
			t.Fatalf("%d workers idle, want %d", idleWorkers(w), want)
		}
		time.Sleep(time.Millisecond)
	}
}

// runTogether runs n turns that are all in flight at once.
func runTogether(w *turnWorkers, n int) {
	var started, done sync.WaitGroup
	gate := make(chan struct{})
	for range n {
		started.Add(1)
		done.Add(1)
		w.run(func() {
			defer done.Done()
			started.Done()
			<-gate
		})
	}
	started.Wait()
	close(gate)
	done.Wait()
}

// Every function handed to the workers runs exactly once.
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
	}
	for i := range ran {
		if n := ran[i].Load(); n != 1 {
			t.Fatalf("turn %d ran %d times", i, n)
		}
	}
	if idle := idleWorkers(&w); idle == 0 || idle > maxIdleWorkers {
		t.Fatalf("%d idle workers after the turns, want between 1 and %d", idle, maxIdleWorkers)
	}
}

// Workers are reused rather than started for each turn: a second wave as
// wide as the first finds the first wave's workers and starts none.
func TestTurnWorkersAreReused(t *testing.T) {
	var w turnWorkers
	runTogether(&w, 10)
	waitIdle(t, &w, 10)
	runTogether(&w, 10)
	waitIdle(t, &w, 10)
	time.Sleep(20 * time.Millisecond) // a started worker would show up here
	if n := idleWorkers(&w); n != 10 {
		t.Fatalf("%d workers idle after two waves of 10; the second started new ones", n)
	}
}

// The pool shrinks to what the load needs: a steady trickle of turns, one
// at a time, keeps one worker busy while the rest of an earlier burst
// leave, even though a turn arrives well within each one's idle time.
func TestTurnWorkersShrinkUnderATrickle(t *testing.T) {
	w := turnWorkers{idleFor: 100 * time.Millisecond}
	runTogether(&w, 20)
	waitIdle(t, &w, 20)
	deadline := time.Now().Add(400 * time.Millisecond)
	for time.Now().Before(deadline) {
		done := make(chan struct{})
		w.run(func() { close(done) })
		<-done
		time.Sleep(2 * time.Millisecond)
	}
	if n := idleWorkers(&w); n > 2 {
		t.Fatalf("%d workers idle under a one-at-a-time trickle; the burst's workers never left", n)
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
	waitIdle(t, &w, 0)
	done := make(chan struct{})
	w.run(func() { close(done) })
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("a turn after the workers left never ran")
	}
}
