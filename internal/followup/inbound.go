package followup

import (
	"context"
	"errors"
	"fmt"

	"github.com/kefu-gateway/kefu/adapters/message"
	"github.com/kefu-gateway/kefu/internal/contacts"
	"github.com/kefu-gateway/kefu/internal/metrics"
	"github.com/kefu-gateway/kefu/internal/store"
	"github.com/kefu-gateway/kefu/router"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// Inbound is the router interceptor that keeps contacts current and
// handles opt-out keywords. For every customer message it makes one Lua
// call (contacts.Store.Observe): the contact is found or created, its last
// seen and last inbound move — which is also what cancels the contact's
// cancel-on-reply follow-ups, so nothing else needs calling per message —
// and an opt-out or opt-in keyword is applied.
//
// A keyword message is taken from the router (the flows must not answer
// 退订 with "didn't get that"): it is recorded in the transcript, and the
// confirmation is sent once — a second 退订 is recorded and not answered.
// While a human serves the customer the keyword still applies but the
// message goes on to the agent and the bot says nothing. 订阅 from someone
// who never opted out is an ordinary message for the flows.
//
// Why an interceptor rather than a call inside the turn: it needs no change
// to the router, runs once per message after deduplication and before the
// conversation loads (so a contact created here is there for the turn), and
// costs one round trip.
type Inbound struct {
	contacts *contacts.Store
	router   Deliverer
	rdb      redis.UniversalClient
	keys     store.Keys
	log      *zap.Logger
	metrics  *metrics.Metrics
}

var _ router.Interceptor = (*Inbound)(nil)

// NewInbound returns the interceptor. Install it after the handoff
// interceptor (agents' messages are not customers'):
//
//	r.SetHooks(router.Hooks{Interceptors: []router.Interceptor{handoffIC, inbound}, ...})
func NewInbound(cs *contacts.Store, r Deliverer, rdb redis.UniversalClient, keys store.Keys, log *zap.Logger, m *metrics.Metrics) *Inbound {
	if log == nil {
		log = zap.NewNop()
	}
	if m == nil {
		m = metrics.New()
	}
	return &Inbound{contacts: cs, router: r, rdb: rdb, keys: keys, log: log, metrics: m}
}

// Intercept implements router.Interceptor.
func (h *Inbound) Intercept(ctx context.Context, msg message.Message) (bool, error) {
	if !msg.IsCustomer() || msg.From.ID == "" {
		return false, nil
	}
	obs, err := h.contacts.Observe(ctx, msg)
	if err != nil {
		return false, err
	}
	reply, take := OptOutReply(h.contacts.Config().OptOut, obs)
	if !take {
		return false, nil
	}
	h.log.Info("contact consent changed", zap.String("contact", obs.Contact.ID), zap.String("action", string(obs.Action)),
		zap.Bool("changed", obs.Changed), zap.String("channel", msg.Channel))
	owner, err := h.rdb.HGet(ctx, h.keys.Conversation(msg.ConversationID), "o").Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return false, fmt.Errorf("checking conversation owner: %w", err)
	}
	if owner != "" {
		return false, nil // the agent sees the message; the bot stays quiet
	}
	d := router.Delivery{ConversationID: msg.ConversationID, Channel: msg.Channel, Account: msg.Account, Customer: msg.From,
		Messages: []message.Message{msg}}
	if _, err := h.router.Record(ctx, d); err != nil {
		// Not recorded: let the router handle the message normally.
		return false, fmt.Errorf("recording opt-out message: %w", err)
	}
	if reply == "" {
		return true, nil
	}
	d.BotOnly = true
	d.Messages = []message.Message{{From: message.Party{Role: message.RoleBot}, Kind: message.KindText, Text: reply,
		Reply: message.ReplyContext{Token: msg.Reply.Token, TokenExpires: msg.Reply.TokenExpires}, Meta: msg.Meta}}
	if _, err := h.router.Deliver(ctx, d); err != nil && !errors.Is(err, router.ErrHumanOwned) {
		h.metrics.Errors.WithLabelValues("optout").Inc()
		h.log.Error("sending the opt-out confirmation failed", zap.String("conversation", msg.ConversationID), zap.Error(err))
	}
	return true, nil
}

// OptOutReply decides what an observed message gets: take is true when it
// is a consent keyword the flows must not see, and reply is the
// confirmation to send ("" for a repeated opt-out, answered once only).
// A router that folds contacts.Store.ObservePipe into its first round trip
// instead of installing Inbound calls it in the turn.
func OptOutReply(cfg contacts.OptOutConfig, obs *contacts.Observation) (reply string, take bool) {
	switch {
	case obs.Action == contacts.OptOut && obs.Changed:
		return cfg.ConfirmText, true
	case obs.Action == contacts.OptOut:
		return "", true
	case obs.Action == contacts.OptIn && obs.Changed:
		return cfg.OptInText, true
	}
	return "", false
}
