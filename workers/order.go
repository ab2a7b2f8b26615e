package workers

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
	"github.com/kefu-gateway/kefu/adapters"
	"github.com/kefu-gateway/kefu/internal/store"
	"github.com/redis/go-redis/v9"
)

// OutboundOrderTTL is how long a conversation's outbound numbering
// outlives its last task.
const OutboundOrderTTL = 7 * 24 * time.Hour

// NextOutboundNumberLua defines next_outbound_number for the scripts that
// give out a conversation's outbound task numbers: numberScript here, and
// the router's turn commit, which numbers a turn's replies in the same step
// that orders the turn among the conversation's turns. When the numbering
// starts over (its counter expired), what is left of the old one — the
// finished number, the given-up numbers — is dropped, or it would let the
// new numbers go out of order.
//
//	next_outbound_number(counter key, done key, skipped key, TTL ms)
const NextOutboundNumberLua = `
local function next_outbound_number(counter, done, skipped, ttl)
  local n = redis.call('INCR', counter)
  if n == 1 then redis.call('DEL', done, skipped) end
  redis.call('PEXPIRE', counter, ttl)
  return n
end
`

// numberScript gives out a conversation's next outbound task number.
//
//	KEYS: 1 counter, 2 done number, 3 skipped numbers; ARGV: 1 TTL ms
var numberScript = redis.NewScript(NextOutboundNumberLua + `
return next_outbound_number(KEYS[1], KEYS[2], KEYS[3], ARGV[1])`)

// EnqueueInOrder queues p on q so that it goes out after the tasks of its
// conversation numbered before it. A payload without a number (Seq) is
// given the conversation's next one first; one numbered already — the
// router numbers a turn's replies when it commits the turn, so that two
// processes' consecutive turns cannot swap their answers — keeps it.
//
// A number given out for a task that was then surely not queued is
// recorded as skipped: the conversation's next task goes as soon as the one
// before the gap is done, instead of waiting Outbound.OrderWait for a task
// that never comes. An enqueue error does not prove that: a command retried
// after a lost reply, or a deadline passing after Redis ran it, may have
// queued the task all the same. So the task carries an id of its own, and
// only a task Redis does not hold is given up; when that cannot be told,
// the number is kept and the next task waits as before.
func EnqueueInOrder(ctx context.Context, rdb redis.UniversalClient, keys store.Keys, q adapters.Enqueuer, p OutboundSendPayload) error {
	conv := p.ConversationID
	if p.Seq <= 0 {
		seq, err := numberScript.Run(ctx, rdb, []string{keys.OutboundSeq(conv), keys.OutboundDone(conv), keys.OutboundSkipped(conv)},
			OutboundOrderTTL.Milliseconds()).Int64()
		if err != nil {
			return fmt.Errorf("numbering outbound task: %w", err)
		}
		p.Seq = seq
	}
	id := newTaskID()
	task, err := NewOutboundSendTask(p, asynq.TaskID(id))
	if err == nil {
		_, err = q.EnqueueContext(ctx, task)
		if err == nil || errors.Is(err, asynq.ErrTaskIDConflict) {
			// A conflict on an id no one else has: a retry found the
			// task the first try queued.
			return nil
		}
		queued, qerr := taskQueued(rdb, id)
		switch {
		case qerr != nil:
			return fmt.Errorf("enqueueing outbound task: %w (whether it was queued is unknown: %v)", err, qerr)
		case queued:
			return nil
		}
	}
	if serr := giveUpNumber(ctx, rdb, keys, conv, p.Seq); serr != nil {
		return fmt.Errorf("enqueueing outbound task: %w (and %v)", err, serr)
	}
	return fmt.Errorf("enqueueing outbound task: %w", err)
}

// giveUpNumber records that conv's outbound task number seq will never be
// queued, so the task after it need not wait for it. It is recorded even
// when ctx has ended: a number left neither queued nor skipped holds the
// conversation's next message for Outbound.OrderWait.
func giveUpNumber(ctx context.Context, rdb redis.UniversalClient, keys store.Keys, conv string, seq int64) error {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	skipKey := keys.OutboundSkipped(conv)
	skip := rdb.TxPipeline()
	skip.SAdd(sctx, skipKey, seq)
	skip.PExpire(sctx, skipKey, OutboundOrderTTL)
	if _, err := skip.Exec(sctx); err != nil {
		return fmt.Errorf("recording outbound number %d as skipped: %w", seq, err)
	}
	return nil
}

// taskQueued reports whether Redis holds the outbound task with id (in
// QueueCritical, where NewOutboundSendTask puts it). asynq's inspector
// takes no context; the client's read timeout bounds the look-up.
func taskQueued(rdb redis.UniversalClient, id string) (bool, error) {
	insp := asynq.NewInspectorFromRedisClient(rdb)
	_, err := insp.GetTaskInfo(QueueCritical, id)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, asynq.ErrTaskNotFound), errors.Is(err, asynq.ErrQueueNotFound):
		return false, nil
	}
	return false, fmt.Errorf("looking up outbound task: %w", err)
}

// newTaskID returns a random task id.
func newTaskID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return "out-" + hex.EncodeToString(b[:])
}

// turnReadyScript reports whether a conversation's outbound task number
// ARGV[1] may go: every task before it is done, numbers given up
// (OutboundSkipped) counting as done once the task before them is.
//
//	KEYS: 1 done number, 2 skipped numbers; ARGV: 1 the task's number
var turnReadyScript = redis.NewScript(`
local need = tonumber(ARGV[1]) - 1
for _ = 1, 1000 do
  if need <= 0 or redis.call('SISMEMBER', KEYS[2], need) == 0 then break end
  need = need - 1
end
if need <= 0 then return 1 end
if tonumber(redis.call('GET', KEYS[1]) or '0') >= need then return 1 end
return 0`)

// turnReady runs turnReadyScript for p.
func (h *Outbound) turnReady(ctx context.Context, p OutboundSendPayload) (bool, error) {
	keys := []string{h.Keys.OutboundDone(p.ConversationID), h.Keys.OutboundSkipped(p.ConversationID)}
	n, err := turnReadyScript.Run(ctx, h.Redis, keys, p.Seq).Int()
	if err != nil {
		return false, fmt.Errorf("reading outbound order: %w", err)
	}
	return n == 1, nil
}
