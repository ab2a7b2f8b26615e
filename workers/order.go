package workers

import (
	"context"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
	"github.com/kefu-gateway/kefu/adapters"
	"github.com/kefu-gateway/kefu/internal/store"
	"github.com/redis/go-redis/v9"
)

// orderTTL is how long a conversation's outbound numbering outlives its
// last task.
const orderTTL = 7 * 24 * time.Hour

// EnqueueInOrder numbers p among its conversation's outbound tasks (Seq)
// and queues it on q, so that it goes out after the tasks queued before it.
// A number given out for a task that then cannot be queued is recorded as
// skipped: the conversation's next task goes as soon as the one before the
// gap is done, instead of waiting Outbound.OrderWait for a task that never
// comes.
func EnqueueInOrder(ctx context.Context, rdb redis.UniversalClient, keys store.Keys, q adapters.Enqueuer,
	p OutboundSendPayload, opts ...asynq.Option) error {
	seqKey := keys.OutboundSeq(p.ConversationID)
	pipe := rdb.TxPipeline()
	incr := pipe.Incr(ctx, seqKey)
	pipe.PExpire(ctx, seqKey, orderTTL)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("numbering outbound task: %w", err)
	}
	p.Seq = incr.Val()
	task, err := NewOutboundSendTask(p, opts...)
	if err == nil {
		_, err = q.EnqueueContext(ctx, task)
	}
	if err == nil {
		return nil
	}
	skipKey := keys.OutboundSkipped(p.ConversationID)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	skip := rdb.TxPipeline()
	skip.SAdd(sctx, skipKey, p.Seq)
	skip.PExpire(sctx, skipKey, orderTTL)
	if _, serr := skip.Exec(sctx); serr != nil {
		return fmt.Errorf("enqueueing outbound task: %w (and recording its number as skipped: %v)", err, serr)
	}
	return fmt.Errorf("enqueueing outbound task: %w", err)
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
