package store

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kefu-gateway/kefu/internal/testutil/redistest"
	"github.com/redis/go-redis/v9"
)

// tripCounter counts the pipelines sent. Unlike the round-trip metric
// (metrics.RedisHook) it leaves out a new connection's own set-up (SELECT,
// CLIENT SETINFO), so a test can count exactly.
type tripCounter struct{ n atomic.Int64 }

func (c *tripCounter) DialHook(next redis.DialHook) redis.DialHook { return next }
func (c *tripCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return next
}
func (c *tripCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if n := cmds[0].Name(); n != "select" && n != "client" && n != "hello" && n != "auth" {
			c.n.Add(1)
		}
		return next(ctx, cmds)
	}
}

func TestBatcherGivesEachCallerItsOwnResults(t *testing.T) {
	db := redistest.New(t)
	ctx := context.Background()
	db.Client.Set(ctx, "str", "x", 0)
	b := NewBatcher(db.Client)

	const callers = 200
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pipe := db.Client.Pipeline()
			key := "n:" + strconv.Itoa(i)
			incr := pipe.IncrBy(ctx, key, int64(i))
			get := pipe.Get(ctx, key)
			// Every fifth caller has a command that fails: only its own.
			var bad *redis.IntCmd
			if i%5 == 0 {
				bad = pipe.LPush(ctx, "str", "y")
			}
			if err := b.Exec(ctx, pipe.Cmds()); err != nil {
				errs <- err
				return
			}
			switch {
			case incr.Err() != nil || incr.Val() != int64(i):
				errs <- errors.New(key + ": incr gave " + strconv.FormatInt(incr.Val(), 10))
			case get.Val() != strconv.Itoa(i):
				errs <- errors.New(key + ": get gave " + get.Val())
			case bad != nil && bad.Err() == nil:
				errs <- errors.New(key + ": LPUSH on a string did not fail")
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// An idle batcher sends at once; concurrent callers share trips.
func TestBatcherSharesTripsOnlyUnderLoad(t *testing.T) {
	db := redistest.New(t)
	ctx := context.Background()
	trips := &tripCounter{}
	db.Client.AddHook(trips)
	b := NewBatcher(db.Client)

	for i := range 5 {
		pipe := db.Client.Pipeline()
		pipe.Set(ctx, "k"+strconv.Itoa(i), i, 0)
		if err := b.Exec(ctx, pipe.Cmds()); err != nil {
			t.Fatal(err)
		}
	}
	if n := trips.n.Load(); n != 5 {
		t.Fatalf("5 sequential callers took %d trips, want 5 (one each, nothing held back)", n)
	}

	trips.n.Store(0)
	const callers = 400
	var wg sync.WaitGroup
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pipe := db.Client.Pipeline()
			pipe.Incr(ctx, "shared")
			_ = b.Exec(ctx, pipe.Cmds())
		}()
	}
	wg.Wait()
	if got := db.Client.Get(ctx, "shared").Val(); got != strconv.Itoa(callers) {
		t.Fatalf("shared counter %s, want %d", got, callers)
	}
	if n := trips.n.Load(); n >= callers {
		t.Fatalf("%d concurrent callers took %d trips: nothing was shared", callers, n)
	}
	t.Logf("%d concurrent callers, %d trips", callers, trips.n.Load())
}

// A caller that gives up returns its context's error at once; the others
// in its batch are unaffected.
func TestBatcherCallerGivingUp(t *testing.T) {
	db := redistest.New(t)
	b := NewBatcher(db.Client)
	ctx := context.Background()

	// Hold the batcher busy with a slow command (a blocking pop that waits
	// out its timeout on its own connection) so the next callers queue.
	var slow sync.WaitGroup
	for range maxInFlight {
		slow.Add(1)
		go func() {
			defer slow.Done()
			pipe := db.Client.Pipeline()
			pipe.Do(ctx, "BLPOP", "nothing-comes", "0.3")
			_ = b.Exec(ctx, pipe.Cmds())
		}()
	}
	time.Sleep(50 * time.Millisecond)

	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	pipe := db.Client.Pipeline()
	pipe.Set(ctx, "given-up", 1, 0)
	start := time.Now()
	if err := b.Exec(short, pipe.Cmds()); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want the context's deadline", err)
	}
	if d := time.Since(start); d > 200*time.Millisecond {
		t.Fatalf("giving up took %v", d)
	}

	pipe = db.Client.Pipeline()
	set := pipe.Set(ctx, "patient", 1, 0)
	if err := b.Exec(ctx, pipe.Cmds()); err != nil || set.Err() != nil {
		t.Fatalf("patient caller: %v / %v", err, set.Err())
	}
	slow.Wait()
}

// Send queues without waiting; its channel closes once the results are in.
func TestBatcherSendDoesNotWait(t *testing.T) {
	db := redistest.New(t)
	ctx := context.Background()
	b := NewBatcher(db.Client)
	pipe := db.Client.Pipeline()
	// The blocking pop holds the pipeline for 0.2 s on its connection.
	pipe.Do(ctx, "BLPOP", "nothing-comes", "0.2")
	set := pipe.Set(ctx, "sent", 1, 0)
	start := time.Now()
	done := b.Send(ctx, pipe.Cmds())
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Fatalf("Send took %v: it waited for Redis", d)
	}
	select {
	case <-done:
		t.Fatal("done before Redis answered")
	default:
	}
	<-done
	if set.Err() != nil || set.Val() != "OK" {
		t.Fatalf("after done: %v %q", set.Err(), set.Val())
	}
	select {
	case <-b.Send(ctx, nil):
	case <-time.After(time.Second):
		t.Fatal("sending nothing never finished")
	}
}
