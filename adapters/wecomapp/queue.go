package wecomapp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
	"github.com/kefu-gateway/kefu/adapters"
	"github.com/kefu-gateway/kefu/workers"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// TypeQueuedSend delivers app messages held back by the per-member limit
// when their slot comes.
const TypeQueuedSend = "wecom_app:send_queued"

// queuedSend is the payload of a wecom_app:send_queued task.
type queuedSend struct {
	Account        string   `json:"account"`
	ConversationID string   `json:"conversation_id,omitempty"`
	MessageID      string   `json:"message_id,omitempty"`
	User           string   `json:"user"`
	Parts          []string `json:"parts"`
	// BotOnly messages are dropped when a human owns the conversation by the
	// time they leave, as the outbound worker does.
	BotOnly bool `json:"bot_only,omitempty"`
	// Reserved is true when the first part's slot is already booked.
	Reserved bool `json:"reserved,omitempty"`
}

// newQueuedSendTask returns a task sending job at at.
func newQueuedSendTask(job queuedSend, at time.Time) (*asynq.Task, error) {
	b, err := json.Marshal(job)
	if err != nil {
		return nil, fmt.Errorf("encoding queued wecom app send: %w", err)
	}
	return asynq.NewTask(TypeQueuedSend, b, asynq.Queue(workers.QueueCritical), asynq.ProcessAt(at),
		asynq.MaxRetry(8), asynq.Timeout(2*time.Minute)), nil
}

func (ch *Channel) enqueueQueued(ctx context.Context, job queuedSend, at time.Time) error {
	if ch.deps.Tasks == nil {
		return fmt.Errorf("queueing wecom app send: %w", ErrNotConnected)
	}
	task, err := newQueuedSendTask(job, at)
	if err != nil {
		return err
	}
	if _, err := ch.deps.Tasks.EnqueueContext(ctx, task); err != nil {
		return fmt.Errorf("queueing wecom app send: %w", err)
	}
	return nil
}

// processQueuedSend sends a queued message. Permanent failures are recorded
// in the undeliverable stream, like the outbound worker's.
func (ch *Channel) processQueuedSend(ctx context.Context, t *asynq.Task) error {
	var job queuedSend
	if err := json.Unmarshal(t.Payload(), &job); err != nil {
		return fmt.Errorf("decoding queued wecom app send: %v: %w", err, asynq.SkipRetry)
	}
	a, ok := ch.accounts[job.Account]
	if !ok {
		return fmt.Errorf("sending queued wecom app message: no account %q: %w", job.Account, asynq.SkipRetry)
	}
	if job.BotOnly && job.ConversationID != "" {
		owner, err := ch.deps.Redis.HGet(ctx, ch.deps.Keys.Conversation(job.ConversationID), "o").Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			return fmt.Errorf("checking conversation owner: %w", err)
		}
		if owner != "" {
			ch.undeliverable(ctx, job, workers.ReasonHumanOwned)
			return nil
		}
	}
	if _, err := a.deliver(ctx, job); err != nil {
		if errors.Is(err, adapters.ErrPermanent) {
			ch.undeliverable(ctx, job, err.Error())
			return fmt.Errorf("sending queued wecom app message: %w: %w", err, asynq.SkipRetry)
		}
		return fmt.Errorf("sending queued wecom app message (will retry): %w", err)
	}
	return nil
}

// undeliverable records a queued message that will not reach the member.
func (ch *Channel) undeliverable(ctx context.Context, job queuedSend, reason string) {
	err := ch.deps.Redis.XAdd(ctx, &redis.XAddArgs{
		Stream: ch.deps.Keys.Undeliverable(), MaxLen: 10000, Approx: true,
		Values: []any{"conversation", job.ConversationID, "channel", Kind, "account", job.Account,
			"message", job.MessageID, "reason", reason},
	}).Err()
	if err != nil {
		ch.deps.Log.Warn("recording undeliverable wecom app message failed", zap.Error(err))
	}
}
