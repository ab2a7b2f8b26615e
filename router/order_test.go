package router_test

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kefu-gateway/kefu/internal/metrics"
	"github.com/kefu-gateway/kefu/internal/testutil/redistest"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// stallAfterCommit holds every command of its client that comes after the
// first turn commit it sees, until release is closed: a process that
// stops between committing a turn and queueing the turn's replies.
type stallAfterCommit struct {
	committed atomic.Bool
	release   chan struct{}
	stalled   chan struct{} // closed when the first command is held
	once      sync.Once
}

func newStallAfterCommit() *stallAfterCommit {
	return &stallAfterCommit{release: make(chan struct{}), stalled: make(chan struct{})}
}

func (h *stallAfterCommit) hold() {
	if h.committed.Load() {
		h.once.Do(func() { close(h.stalled) })
		<-h.release
	}
}

func (h *stallAfterCommit) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *stallAfterCommit) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.hold()
		return next(ctx, cmd)
	}
}

func (h *stallAfterCommit) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.hold()
		err := next(ctx, cmds)
		for _, c := range cmds {
			// The commit is the script whose first key is the
			// conversation's state (the load reads it with HMGET).
			args := c.Args()
			if len(args) > 3 && strings.HasPrefix(strings.ToLower(args[0].(string)), "eval") &&
				strings.Contains(args[3].(string), ":conv:{") {
				h.committed.Store(true)
			}
		}
		return err
	}
}

// Two processes answer a customer's consecutive messages on a channel
// without passive replies. The first stops right after committing its turn,
// before its replies are queued; the second answers the next message in
// full meanwhile. The first answer still reaches the customer first: the
// order of the replies is fixed where the order of the turns is, in the
// commit.
func TestRepliesFollowTheTurnsAcrossProcesses(t *testing.T) {
	e := setup(t, "ordercommit", "")
	stall := newStallAfterCommit()
	defer func() {
		select {
		case <-stall.release:
		default:
			close(stall.release)
		}
	}()
	opts, err := redis.ParseURL(e.db.URL)
	if err != nil {
		t.Fatal(err)
	}
	slow := redis.NewClient(opts)
	t.Cleanup(func() { _ = slow.Close() })
	slow.AddHook(stall)
	first, _ := newProcess(t, &redistest.DB{Client: slow, URL: e.db.URL}, e.keys, e.account, "", zap.NewNop(), metrics.New())

	if _, err := first.Accept(context.Background(), e.msg("m1", "hi")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-stall.stalled:
	case <-time.After(5 * time.Second):
		t.Fatal("the first process never committed its turn")
	}
	second := e.accept(t, e.msg("m2", "two"))
	select {
	case <-second.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the second process never finished its turn")
	}
	// Long enough for the workers to send the second answer if nothing
	// held it back.
	time.Sleep(500 * time.Millisecond)
	if n := e.fake.SentCount(); n != 0 {
		t.Fatalf("%d replies went out while the first turn's were not queued yet: %q", n, texts(e.fake.Sent()))
	}
	close(stall.release)
	got := texts(e.fake.WaitSent(3, 10*time.Second))
	if strings.Join(got, "|") != "hello there|first|second" {
		t.Fatalf("sent in order %q, want the first turn's answer first", got)
	}
}

// On a channel without passive replies, an adapter that asks for a turn's
// replies passively all the same gets none: they go actively, once, with
// the number their commit gave them, and the next turn's replies follow
// without waiting.
func TestNoPassiveRepliesWhereTheChannelHasNone(t *testing.T) {
	e := setup(t, "orderpassive", "")
	for i, id := range []string{"p1", "p2", "p3"} {
		turn := e.accept(t, e.msg(id, "hi"))
		if r, ok := turn.TakePassive(context.Background(), 5*time.Second); ok || len(r) > 0 {
			t.Fatalf("turn %d taken passively: %+v", i+1, r)
		}
	}
	start := time.Now()
	e.accept(t, e.msg("next", "two"))
	got := texts(e.fake.WaitSent(5, 10*time.Second))
	if strings.Join(got, "|") != "hello there|hello there|hello there|first|second" {
		t.Fatalf("sent %q", got)
	}
	// Outbound.OrderWait is 30 s by default: a number that no task has
	// would show as a wait that long.
	if waited := time.Since(start); waited > 5*time.Second {
		t.Fatalf("the last turn's replies waited %s", waited)
	}
	time.Sleep(200 * time.Millisecond)
	if n := e.fake.SentCount(); n != 5 {
		t.Fatalf("%d replies sent, want 5", n)
	}
}
