package wecomkf

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/kefu-gateway/kefu/adapters/internal/window"
	"github.com/kefu-gateway/kefu/adapters/internal/wxmsg"
	"github.com/kefu-gateway/kefu/adapters/message"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// dispatch hands one page's messages to the router and waits until every
// turn has finished. A customer's messages are handled one after another, in
// the order they were sent (inSendOrder), so a burst is answered in order;
// different customers are handled side by side (sync.concurrency at a
// time). The first failure is returned, and the caller then keeps the
// cursor where it was.
//
// Each customer message (origin 3) first arms the customer's reply window:
// 5 messages within 48 hours of its send_time (PROTOCOLS.md §3.3), unless it
// is older than that — a page re-read from the last three days must not
// reopen old windows, nor hand back quota already used for a message it
// had armed before (see window.Arming).
func (a *Account) dispatch(ctx context.Context, msgs []message.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	msgs = inSendOrder(msgs, a.ch.deps.Clock.Now())
	if err := a.armWindows(ctx, msgs); err != nil {
		return err
	}
	var order []string
	byConv := map[string][]message.Message{}
	for _, m := range msgs {
		if _, ok := byConv[m.ConversationID]; !ok {
			order = append(order, m.ConversationID)
		}
		byConv[m.ConversationID] = append(byConv[m.ConversationID], m)
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		sem  = make(chan struct{}, a.cfg.Sync.Concurrency)
	)
	for _, conv := range order {
		wg.Add(1)
		sem <- struct{}{}
		go func(conv []message.Message) {
			defer wg.Done()
			defer func() { <-sem }()
			if err := a.dispatchConversation(ctx, conv); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}(byConv[conv])
	}
	wg.Wait()
	return errors.Join(errs...)
}

// dispatchConversation accepts one customer's messages in order, each after
// the previous turn has finished.
func (a *Account) dispatchConversation(ctx context.Context, msgs []message.Message) error {
	for _, m := range msgs {
		turn, err := a.ch.deps.Inbound.Accept(ctx, m)
		if err != nil {
			return fmt.Errorf("dispatching kf message: %w", err)
		}
		select {
		case <-turn.Done():
		case <-ctx.Done():
			return fmt.Errorf("dispatching kf message: %w", ctx.Err())
		}
		if err := turn.Err(); err != nil {
			return fmt.Errorf("dispatching kf message: %w", err)
		}
	}
	return nil
}

// inSendOrder returns a page's messages sorted by send_time, oldest first,
// keeping the page's order among equals; a message without a send_time
// counts as sent now, as its reply window does (window.Arming). sync_msg's
// documentation promises no order, and a customer's turns, their burst
// and their reply window all go by it.
func inSendOrder(msgs []message.Message, now time.Time) []message.Message {
	at := func(m message.Message) time.Time {
		if m.Timestamp.IsZero() {
			return now
		}
		return m.Timestamp
	}
	out := slices.Clone(msgs)
	slices.SortStableFunc(out, func(a, b message.Message) int { return at(a).Compare(at(b)) })
	return out
}

// armWindows grants each customer's newest recent message on a page (msgs
// in send order) its reply window (an older one's grant would only be
// replaced by it) and remembers which kf account each customer last wrote
// to (WindowChecker looks the window up by customer): a page costs one
// Redis round trip, however many messages it holds.
func (a *Account) armWindows(ctx context.Context, msgs []message.Message) error {
	now := a.ch.deps.Clock.Now()
	var arms []window.Arming
	armed := map[string]int{}     // window key → its index in arms
	lastKf := map[string]string{} // customer → kf account of their newest message
	for _, m := range msgs {
		if m.Kind == message.KindEvent || (!m.Timestamp.IsZero() && now.Sub(m.Timestamp) > window.KFMessage.Within) {
			continue
		}
		kf := m.Meta[wxmsg.MetaOpenKfID]
		arm := window.Arming{Key: a.windowKey(kf, m.From.ID), Grant: window.KFMessage, At: m.Timestamp, Source: m.ID}
		if i, seen := armed[arm.Key]; seen {
			arms[i] = arm
		} else {
			armed[arm.Key] = len(arms)
			arms = append(arms, arm)
		}
		lastKf[m.From.ID] = kf
	}
	var sets []*redis.StatusCmd
	errs := a.windows.ArmMany(ctx, arms, func(pipe redis.Pipeliner) {
		for customer, kf := range lastKf {
			sets = append(sets, pipe.Set(ctx, a.keys.lastKf(customer), kf, window.KFMessage.Within))
		}
	})
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("dispatching kf message: %w", err)
	}
	for _, c := range sets {
		if err := c.Err(); err != nil {
			return fmt.Errorf("dispatching kf message: recording kf account: %w", err)
		}
	}
	return nil
}

// windowKey is the window tracker's key of a customer of a kf account.
func (a *Account) windowKey(openKfID, user string) string {
	return a.windows.Key(Kind, a.cfg.ID, openKfID+"/"+user)
}

// noteOthers acts on the page's items that are not for the bot: servicer
// messages (origin 5) and session events mean a human may have taken the
// conversation, so its cached session state is dropped; failed sends and
// undecodable items are logged.
func (a *Account) noteOthers(ctx context.Context, others []wxmsg.KFItem) {
	log := a.ch.deps.Log
	for _, it := range others {
		switch {
		case it.Err != nil:
			log.Warn("skipping an undecodable kf item", zap.String("account", a.cfg.ID), zap.Error(it.Err))
		case it.Origin == wxmsg.KFOriginServicer,
			it.Event != nil && (it.Event.EventType == "session_status_change" || it.Event.EventType == "servicer_status_change"):
			if it.OpenKfID != "" && it.ExternalUserID != "" {
				a.forgetState(ctx, it.OpenKfID, it.ExternalUserID)
			}
		case it.Event != nil && it.Event.EventType == "msg_send_fail":
			log.Warn("wecom kf reports a message it could not deliver", zap.String("account", a.cfg.ID),
				zap.String("fail_msgid", it.Event.FailMsgID), zap.Int("fail_type", it.Event.FailType))
		}
	}
}

func (a *Account) forgetState(ctx context.Context, openKfID, user string) {
	c, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := a.ch.deps.Redis.Del(c, a.keys.state(openKfID, user)).Err(); err != nil {
		a.ch.deps.Log.Warn("dropping cached kf session state failed", zap.Error(err))
	}
}
