package router

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
	"github.com/kefu-gateway/kefu/adapters/message"
	"github.com/kefu-gateway/kefu/flows"
	"github.com/kefu-gateway/kefu/workers"
	"go.uber.org/zap"
)

// scheduleTimer enqueues the flow timer a turn asked for. A conversation
// has at most one timer per token; re-scheduling the same token is a no-op.
func (r *Router) scheduleTimer(ctx context.Context, conv string, a flows.Action) error {
	task, err := workers.NewFlowTimerTask(workers.FlowTimerPayload{ConversationID: conv, Token: a.Token}, a.At)
	if err != nil {
		return err
	}
	if _, err := r.tasks.EnqueueContext(ctx, task); err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		return fmt.Errorf("scheduling flow timer: %w", err)
	}
	return nil
}

// cancelTimer removes a scheduled timer, best effort: a timer that fires
// anyway carries a token the flow no longer waits on and is ignored.
func (r *Router) cancelTimer(conv, token string) {
	if r.timers == nil {
		return
	}
	_ = r.timers.DeleteTask(workers.QueueDefault, workers.FlowTimerTaskID(conv, token))
}

// HandleFlowTimer is the handler of flow:timer tasks.
func (r *Router) HandleFlowTimer(ctx context.Context, t *asynq.Task) error {
	var p workers.FlowTimerPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil {
		return fmt.Errorf("decoding flow timer: %v: %w", err, asynq.SkipRetry)
	}
	return r.Wake(ctx, p.ConversationID, p.Token)
}

// Wake runs the conversation's flow for a due timer (a reminder, an
// inactivity timeout) and sends what it says through the channel's active
// API. Nothing happens when the conversation is gone, a human owns it, or
// the flow no longer waits on that timer.
func (r *Router) Wake(ctx context.Context, convID, token string) error {
	err := r.proactive(ctx, Conversation{ID: convID}, flows.Input{Kind: flows.InputTimer, Token: token}, false)
	if errors.Is(err, ErrHumanOwned) || errors.Is(err, errNoConversation) {
		return nil
	}
	return err
}

// FlowStarter starts a flow in a conversation on kefu's own initiative;
// *Router implements it (StartFlow). Follow-ups, campaigns and the
// handoff's survey after /end use it.
type FlowStarter interface {
	StartFlow(ctx context.Context, conv Conversation, flowID string) error
}

// StartFlow starts a flow in a conversation on kefu's own initiative (a
// follow-up or campaign whose content is a flow): it runs the flow's first
// steps, commits the state and delivers what the flow says through the
// channel's active API. conv needs ID, Channel, Account and Customer. It
// returns ErrHumanOwned when a human owns the conversation.
func (r *Router) StartFlow(ctx context.Context, conv Conversation, flowID string) error {
	if r.engine.Set().Flow(flowID) == nil {
		return fmt.Errorf("starting flow: unknown flow %q", flowID)
	}
	return r.proactive(ctx, conv, flows.Input{Kind: flows.InputStart, Flow: flowID}, true)
}

var errNoConversation = errors.New("no such conversation")

// proactive runs the flows for something other than a customer message and
// sends the replies actively. create allows a conversation kefu has no
// state for (a campaign reaching a contact for the first time in a while).
func (r *Router) proactive(ctx context.Context, seed Conversation, in flows.Input, create bool) error {
	unlock := r.locks.lock(seed.ID)
	defer unlock()
	for attempt := 0; attempt < maxCommitAttempts; attempt++ {
		ld, err := r.load(ctx, seed.ID, "", nil)
		if err != nil {
			return err
		}
		conv := ld.conv
		if conv.ID == "" {
			if !create {
				return errNoConversation
			}
			conv.ID, conv.Channel, conv.Account, conv.Customer, conv.Started = seed.ID, seed.Channel, seed.Account, seed.Customer, r.clock.Now()
		}
		if !conv.BotOwned() {
			return ErrHumanOwned
		}
		caps, ok := r.capabilities(conv.Channel, conv.Account)
		if !ok {
			r.log.Warn("flow for a channel account no longer configured", zap.String("conversation", conv.ID))
			return errNoConversation
		}
		in.Channel = conv.Channel
		res := r.runFlow(ctx, conv, in, caps)
		origin := message.Message{Channel: conv.Channel, Account: conv.Account, ConversationID: conv.ID, From: conv.Customer,
			Meta: seed.Meta}
		replies, effects := r.perform(origin, res.Actions)
		ids, seq, err := r.commit(ctx, conv, commitOptions{
			botReplies:     hasBotReply(replies),
			publish:        caps.TranscriptDelivery,
			numberOutbound: len(replies) > 0 && !caps.TranscriptDelivery,
		}, replies)
		if errors.Is(err, errConflict) || errors.Is(err, errHumanOwned) {
			time.Sleep(time.Duration(attempt+1) * time.Millisecond)
			continue
		}
		if err != nil {
			return err
		}
		for i := range replies {
			replies[i].ID = ids[i]
		}
		r.outbox.sendActive(conv, origin, caps, r.outbox.render(caps, replies), seq)
		r.runEffects(ctx, conv, origin, effects)
		return nil
	}
	return fmt.Errorf("running flow: %w", errConflict)
}
