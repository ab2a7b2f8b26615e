package workers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/hibiken/asynq"
	"github.com/kefu-gateway/kefu/adapters"
	"github.com/kefu-gateway/kefu/adapters/message"
	"github.com/kefu-gateway/kefu/internal/metrics"
	"github.com/kefu-gateway/kefu/internal/store"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// AdapterLookup finds the adapter of a channel account.
type AdapterLookup func(channel, account string) (adapters.Adapter, bool)

// Outbound handles outbound:send tasks.
type Outbound struct {
	Lookup  AdapterLookup
	Redis   redis.UniversalClient
	Keys    store.Keys
	Log     *zap.Logger
	Metrics *metrics.Metrics
	// PendingTTL is how long replies deferred to the customer's next message
	// are kept (an official account's replies are void after 48 h anyway).
	PendingTTL time.Duration
	// OrderWait bounds how long a task waits for the conversation's previous
	// outbound task to finish (default 30s); past it, it goes anyway.
	OrderWait time.Duration
}

var _ asynq.Handler = (*Outbound)(nil)

// Reasons recorded for messages that are not delivered.
const (
	ReasonHumanOwned = "a human owns the conversation"
	ReasonNoAdapter  = "no such channel account"
)

// ProcessTask sends each message in order. Parts already sent by an earlier
// attempt are skipped (progress is kept in Redis), so a retry never repeats
// a visible message. Bot messages are dropped when a human has taken the
// conversation meanwhile: the owner is checked at send time.
func (h *Outbound) ProcessTask(ctx context.Context, t *asynq.Task) error {
	var p OutboundSendPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil {
		return fmt.Errorf("decoding outbound task: %v: %w", err, asynq.SkipRetry)
	}
	if p.Seq > 0 {
		h.awaitTurn(ctx, p)
	}
	err := h.send(ctx, p)
	retried, _ := asynq.GetRetryCount(ctx)
	maxRetry, _ := asynq.GetMaxRetry(ctx)
	if p.Seq > 0 && (err == nil || errors.Is(err, asynq.SkipRetry) || retried >= maxRetry) {
		// This task is over (sent, deferred, undeliverable, or out of
		// retries): let the conversation's next one go.
		h.markDone(ctx, p)
	}
	return err
}

// awaitTurn waits until the conversation's previous outbound task is done.
func (h *Outbound) awaitTurn(ctx context.Context, p OutboundSendPayload) {
	wait := h.OrderWait
	if wait <= 0 {
		wait = 30 * time.Second
	}
	deadline := time.Now().Add(wait)
	var lastErr error
	for {
		ready, err := h.turnReady(ctx, p)
		if ready {
			return
		}
		if err != nil {
			lastErr = err
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			fields := []zap.Field{zap.String("conversation", p.ConversationID), zap.Int64("seq", p.Seq)}
			if lastErr != nil {
				fields = append(fields, zap.NamedError("order_error", lastErr))
			}
			h.Log.Warn("previous outbound task of the conversation still unfinished; sending anyway", fields...)
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
}

var markDoneScript = redis.NewScript(`
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > cur then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) end
return 1`)

func (h *Outbound) markDone(ctx context.Context, p OutboundSendPayload) {
	ctx = context.WithoutCancel(ctx)
	if err := markDoneScript.Run(ctx, h.Redis, []string{h.Keys.OutboundDone(p.ConversationID)}, p.Seq, OutboundOrderTTL.Milliseconds()).Err(); err != nil {
		h.Log.Warn("recording outbound order failed", zap.Error(err))
	}
}

func (h *Outbound) send(ctx context.Context, p OutboundSendPayload) error {
	taskID, _ := asynq.GetTaskID(ctx)
	progKey := h.Keys.OutboundProgress(taskID)
	start := 0
	if taskID != "" {
		if n, err := h.Redis.Get(ctx, progKey).Int(); err == nil {
			start = n
		} else if !errors.Is(err, redis.Nil) {
			return fmt.Errorf("reading outbound progress: %w", err)
		}
	}
	a, ok := h.Lookup(p.Channel, p.Account)
	if !ok {
		h.undeliverable(ctx, p, p.Messages[start:], ReasonNoAdapter)
		return fmt.Errorf("sending to %s/%s: %s: %w", p.Channel, p.Account, ReasonNoAdapter, asynq.SkipRetry)
	}
	for i := start; i < len(p.Messages); i++ {
		msg := p.Messages[i]
		if msg.From.Role == message.RoleBot {
			owner, err := h.Redis.HGet(ctx, h.Keys.Conversation(p.ConversationID), "o").Result()
			if err != nil && !errors.Is(err, redis.Nil) {
				return fmt.Errorf("checking conversation owner: %w", err)
			}
			if owner != "" {
				h.count(p.Channel, msg, "dropped")
				h.undeliverable(ctx, p, []message.Message{msg}, ReasonHumanOwned)
				h.saveProgress(ctx, progKey, i+1)
				continue
			}
		}
		_, err := a.Send(ctx, msg)
		switch {
		case err == nil:
			h.count(p.Channel, msg, "sent")
			h.saveProgress(ctx, progKey, i+1)
		case errors.Is(err, adapters.ErrDeferred):
			if derr := h.defer_(ctx, p, p.Messages[i:]); derr != nil {
				return derr
			}
			for _, m := range p.Messages[i:] {
				h.count(p.Channel, m, "deferred")
			}
			h.clearProgress(ctx, progKey)
			return nil
		case errors.Is(err, adapters.ErrPermanent):
			for _, m := range p.Messages[i:] {
				h.count(p.Channel, m, "failed")
			}
			h.undeliverable(ctx, p, p.Messages[i:], err.Error())
			h.clearProgress(ctx, progKey)
			h.Log.Warn("message undeliverable", zap.String("channel", p.Channel), zap.String("account", p.Account),
				zap.String("conversation", p.ConversationID), zap.Error(err))
			return fmt.Errorf("sending %s message: %w: %w", p.Channel, err, asynq.SkipRetry)
		default:
			h.Metrics.Errors.WithLabelValues("outbound").Inc()
			return fmt.Errorf("sending %s message (will retry): %w", p.Channel, err)
		}
	}
	h.clearProgress(ctx, progKey)
	return nil
}

func (h *Outbound) count(channel string, m message.Message, result string) {
	h.Metrics.MessagesOut.WithLabelValues(channel, string(m.Kind), result).Inc()
}

func (h *Outbound) saveProgress(ctx context.Context, key string, n int) {
	if err := h.Redis.Set(ctx, key, strconv.Itoa(n), 24*time.Hour).Err(); err != nil {
		h.Log.Warn("saving outbound progress failed", zap.Error(err))
	}
}

func (h *Outbound) clearProgress(ctx context.Context, key string) { h.Redis.Del(ctx, key) }

// defer_ keeps messages for the customer's next message (ErrDeferred).
func (h *Outbound) defer_(ctx context.Context, p OutboundSendPayload, msgs []message.Message) error {
	key := h.Keys.Pending(p.ConversationID)
	pipe := h.Redis.TxPipeline()
	for i := range msgs {
		b, err := json.Marshal(&msgs[i])
		if err != nil {
			return fmt.Errorf("encoding deferred reply: %w", err)
		}
		pipe.RPush(ctx, key, b)
	}
	ttl := h.PendingTTL
	if ttl <= 0 {
		ttl = 48 * time.Hour
	}
	pipe.Expire(ctx, key, ttl)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("deferring replies: %w", err)
	}
	return nil
}

// undeliverable records messages that will not reach the customer, with why.
func (h *Outbound) undeliverable(ctx context.Context, p OutboundSendPayload, msgs []message.Message, reason string) {
	for _, m := range msgs {
		err := h.Redis.XAdd(ctx, &redis.XAddArgs{
			Stream: h.Keys.Undeliverable(), MaxLen: 10000, Approx: true,
			Values: []any{"conversation", p.ConversationID, "channel", p.Channel, "account", p.Account,
				"message", m.ID, "reason", reason},
		}).Err()
		if err != nil {
			h.Log.Warn("recording undeliverable message failed", zap.Error(err))
		}
	}
}
