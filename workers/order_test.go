package workers

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"testing"

	"github.com/hibiken/asynq"
	"github.com/kefu-gateway/kefu/internal/store"
	"github.com/kefu-gateway/kefu/internal/testutil/redistest"
	"go.uber.org/zap"
)

// Whether a conversation's outbound task may go: every task before it is
// done, a number given up counting as done once the one before it is.
func TestTurnReady(t *testing.T) {
	db := redistest.New(t)
	h := &Outbound{Redis: db.Client, Keys: store.Keys{Prefix: "t:"}, Log: zap.NewNop()}
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		done    int64 // 0 = none finished yet
		skipped []int64
		seq     int64
		want    bool
	}{
		{name: "first task", seq: 1, want: true},
		{name: "second before the first is done", seq: 2},
		{name: "second after the first", done: 1, seq: 2, want: true},
		{name: "later task after a later one finished", done: 5, seq: 3, want: true},
		{name: "after a given-up number", done: 1, skipped: []int64{2}, seq: 3, want: true},
		{name: "after given-up numbers", done: 1, skipped: []int64{2, 3}, seq: 4, want: true},
		{name: "the first number given up", skipped: []int64{1}, seq: 2, want: true},
		{name: "a gap before an unfinished task", skipped: []int64{2}, seq: 3},
		{name: "an unfinished task before a gap", done: 1, skipped: []int64{3}, seq: 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := OutboundSendPayload{ConversationID: "c:" + tc.name, Seq: tc.seq}
			if tc.done > 0 {
				db.Client.Set(ctx, h.Keys.OutboundDone(p.ConversationID), tc.done, 0)
			}
			for _, s := range tc.skipped {
				db.Client.SAdd(ctx, h.Keys.OutboundSkipped(p.ConversationID), s)
			}
			got, err := h.turnReady(ctx, p)
			if err != nil || got != tc.want {
				t.Fatalf("turnReady(%d) = %v, %v; want %v", tc.seq, got, err, tc.want)
			}
		})
	}
}

// failingQueue refuses the tasks whose numbers are in fail.
type failingQueue struct {
	fail   map[int64]bool
	queued []int64
}

func (q *failingQueue) EnqueueContext(_ context.Context, task *asynq.Task, _ ...asynq.Option) (*asynq.TaskInfo, error) {
	var p OutboundSendPayload
	if err := json.Unmarshal(task.Payload(), &p); err != nil {
		return nil, err
	}
	if q.fail[p.Seq] {
		return nil, errors.New("queue unreachable")
	}
	q.queued = append(q.queued, p.Seq)
	return &asynq.TaskInfo{ID: strconv.FormatInt(p.Seq, 10)}, nil
}

// A task that cannot be queued gives its number up, so the one after it
// does not wait for it; the numbers go on.
func TestEnqueueInOrderGivesUpTheNumberOfAFailedTask(t *testing.T) {
	db := redistest.New(t)
	keys := store.Keys{Prefix: "t:"}
	h := &Outbound{Redis: db.Client, Keys: keys, Log: zap.NewNop()}
	ctx := context.Background()
	q := &failingQueue{fail: map[int64]bool{2: true}}
	p := OutboundSendPayload{Channel: "fake", Account: "a", ConversationID: "fake:a:u1"}
	for i := range 3 {
		err := EnqueueInOrder(ctx, db.Client, keys, q, p)
		if (err != nil) != (i == 1) {
			t.Fatalf("task %d: %v", i+1, err)
		}
	}
	if len(q.queued) != 2 || q.queued[0] != 1 || q.queued[1] != 3 {
		t.Fatalf("queued numbers %v, want [1 3]", q.queued)
	}
	h.markDone(ctx, OutboundSendPayload{ConversationID: p.ConversationID, Seq: 1})
	if ready, err := h.turnReady(ctx, OutboundSendPayload{ConversationID: p.ConversationID, Seq: 3}); err != nil || !ready {
		t.Fatalf("task 3 after task 1 and a failed task 2: ready %v, %v", ready, err)
	}
	if ttl := db.Client.PTTL(ctx, keys.OutboundSkipped(p.ConversationID)).Val(); ttl <= 0 {
		t.Fatalf("the given-up numbers never expire (PTTL %v)", ttl)
	}
}

// lostReply queues the task for real and then reports an error, as a
// connection lost after Redis ran the enqueue does.
type lostReply struct{ client *asynq.Client }

func (q lostReply) EnqueueContext(ctx context.Context, task *asynq.Task, opts ...asynq.Option) (*asynq.TaskInfo, error) {
	if _, err := q.client.EnqueueContext(ctx, task, opts...); err != nil {
		return nil, err
	}
	return nil, errors.New("read tcp: i/o timeout")
}

// An enqueue error does not prove the task missing: one that Redis holds
// keeps its number, so the task after it still waits for it.
func TestEnqueueInOrderKeepsTheNumberOfATaskQueuedDespiteAnError(t *testing.T) {
	db := redistest.New(t)
	keys := store.Keys{Prefix: "t:"}
	h := &Outbound{Redis: db.Client, Keys: keys, Log: zap.NewNop()}
	ctx := context.Background()
	client := asynq.NewClientFromRedisClient(db.Client)
	t.Cleanup(func() { _ = client.Close() })
	p := OutboundSendPayload{Channel: "fake", Account: "a", ConversationID: "fake:a:u1"}
	if err := EnqueueInOrder(ctx, db.Client, keys, client, p); err != nil {
		t.Fatal(err)
	}
	if err := EnqueueInOrder(ctx, db.Client, keys, lostReply{client}, p); err != nil {
		t.Fatalf("a task queued despite the error: %v; want no error", err)
	}
	if n := db.Client.SCard(ctx, keys.OutboundSkipped(p.ConversationID)).Val(); n != 0 {
		t.Fatalf("%d numbers given up for tasks Redis holds", n)
	}
	h.markDone(ctx, OutboundSendPayload{ConversationID: p.ConversationID, Seq: 1})
	if err := EnqueueInOrder(ctx, db.Client, keys, client, p); err != nil {
		t.Fatal(err)
	}
	if ready, err := h.turnReady(ctx, OutboundSendPayload{ConversationID: p.ConversationID, Seq: 3}); err != nil || ready {
		t.Fatalf("task 3 while task 2 is queued and unfinished: ready %v, %v; want it to wait", ready, err)
	}
}

// Numbering that starts over (its counter expired) drops the old finished
// and given-up numbers, which would otherwise let new tasks skip ahead.
func TestEnqueueInOrderStartsOverCleanly(t *testing.T) {
	db := redistest.New(t)
	keys := store.Keys{Prefix: "t:"}
	h := &Outbound{Redis: db.Client, Keys: keys, Log: zap.NewNop()}
	ctx := context.Background()
	conv := "fake:a:u1"
	db.Client.Set(ctx, keys.OutboundDone(conv), 9, 0)
	db.Client.SAdd(ctx, keys.OutboundSkipped(conv), 1, 2)
	q := &failingQueue{}
	for range 2 {
		if err := EnqueueInOrder(ctx, db.Client, keys, q, OutboundSendPayload{Channel: "fake", Account: "a", ConversationID: conv}); err != nil {
			t.Fatal(err)
		}
	}
	if len(q.queued) != 2 || q.queued[0] != 1 || q.queued[1] != 2 {
		t.Fatalf("numbers %v, want [1 2]", q.queued)
	}
	if ready, err := h.turnReady(ctx, OutboundSendPayload{ConversationID: conv, Seq: 2}); err != nil || ready {
		t.Fatalf("task 2 of the new numbering before task 1 is done: ready %v, %v; want it to wait", ready, err)
	}
}

// A payload numbered already (the router numbers a turn's replies when it
// commits the turn) keeps its number and takes none from the counter; if
// it cannot be queued, that number is the one given up.
func TestEnqueueInOrderKeepsAGivenNumber(t *testing.T) {
	db := redistest.New(t)
	keys := store.Keys{Prefix: "t:"}
	ctx := context.Background()
	conv := "fake:a:u1"
	db.Client.Set(ctx, keys.OutboundSeq(conv), 5, 0)
	q := &failingQueue{fail: map[int64]bool{4: true}}
	p := OutboundSendPayload{Channel: "fake", Account: "a", ConversationID: conv}
	p.Seq = 3
	if err := EnqueueInOrder(ctx, db.Client, keys, q, p); err != nil {
		t.Fatal(err)
	}
	p.Seq = 4
	if err := EnqueueInOrder(ctx, db.Client, keys, q, p); err == nil {
		t.Fatal("a task that could not be queued reported no error")
	}
	if len(q.queued) != 1 || q.queued[0] != 3 {
		t.Fatalf("queued numbers %v, want [3]", q.queued)
	}
	if n := db.Client.Get(ctx, keys.OutboundSeq(conv)).Val(); n != "5" {
		t.Fatalf("the counter moved to %s for numbered payloads", n)
	}
	if skipped := db.Client.SMembers(ctx, keys.OutboundSkipped(conv)).Val(); len(skipped) != 1 || skipped[0] != "4" {
		t.Fatalf("given-up numbers %v, want [4]", skipped)
	}
}
