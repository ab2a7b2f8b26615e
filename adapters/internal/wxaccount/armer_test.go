package wxaccount

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/kefu-gateway/kefu/adapters/internal/window"
	"github.com/kefu-gateway/kefu/internal/testutil/redistest"
	"github.com/redis/go-redis/v9"
)

// countingHook counts Redis round trips (a pipeline counts once).
type countingHook struct {
	mu sync.Mutex
	n  int
}

func (h *countingHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *countingHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { h.inc(); return next(ctx, cmd) }
}
func (h *countingHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error { h.inc(); return next(ctx, cmds) }
}
func (h *countingHook) inc() { h.mu.Lock(); h.n++; h.mu.Unlock() }

// Grants armed concurrently while Run is going are all recorded, in far
// fewer round trips than grants; before Run and after it ends, Arm records
// directly.
func TestArmerGroupCommit(t *testing.T) {
	db := redistest.New(t)
	hook := &countingHook{}
	db.Client.AddHook(hook)
	tr := window.New(db.Client, "kefu:win:", nil)
	a := NewArmer(tr)
	ctx := context.Background()
	if err := <-a.Arm(ctx, tr.Key("c", "a", "before"), window.OAMessage); err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	stopped := make(chan struct{})
	go func() { a.Run(runCtx); close(stopped) }()
	for !a.isRunning() {
		time.Sleep(time.Millisecond)
	}
	hook.mu.Lock()
	hook.n = 0
	hook.mu.Unlock()
	const n = 400
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := <-a.Arm(ctx, tr.Key("c", "a", fmt.Sprint(i)), window.OAMessage); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	hook.mu.Lock()
	trips := hook.n
	hook.mu.Unlock()
	if trips >= n/2 {
		t.Errorf("%d grants took %d round trips, want batching", n, trips)
	}
	for i := 0; i < n; i++ {
		if w, _ := tr.Peek(ctx, tr.Key("c", "a", fmt.Sprint(i))); !w.Open || w.Remaining != 5 {
			t.Fatalf("grant %d = %+v", i, w)
		}
	}
	stop()
	<-stopped
	if err := <-a.Arm(ctx, tr.Key("c", "a", "after"), window.OAEvent); err != nil {
		t.Fatal(err)
	}
	if w, _ := tr.Peek(ctx, tr.Key("c", "a", "after")); w.Remaining != 3 {
		t.Fatalf("grant after Run ended = %+v", w)
	}
	t.Logf("%d grants in %d round trips", n, trips)
}

func (a *Armer) isRunning() bool {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.running
}
