package router

import (
	"context"

	"github.com/kefu-gateway/kefu/adapters"
	"github.com/kefu-gateway/kefu/adapters/message"
	"github.com/kefu-gateway/kefu/flows"
	"go.uber.org/zap"
)

// effect is work for after the commit: a flow action for the EffectRunner,
// or (owned) the inbound message of a human-owned conversation for the
// OwnedHandler.
type effect struct {
	action flows.Action
	owned  bool
	// gap is a question nothing could answer, recorded for the people who
	// maintain the knowledge base.
	gap string
}

// respond decides the bot's replies to msg and updates conv. It may be run
// again on a fresh conv when the commit finds the conversation changed, so
// it has no effects outside conv and its return values: anything else is
// returned as effects, carried out after the commit.
//
// pure asks for an answer that needs no I/O (a one-trip turn, see
// oneTrip): when a flow's HTTP step or the fallback (knowledge base,
// intents, LLM) would be needed, respond stops and ok is false; conv is
// then partly updated and must be dropped.
func (r *Router) respond(ctx context.Context, conv *Conversation, msg message.Message, caps adapters.Capabilities, pure bool) (replies []message.Message, effects []effect, ok bool) {
	noteCustomer(conv, msg)
	if !conv.BotOwned() {
		// A human owns the conversation: the bot stays silent and the
		// handoff component relays the message.
		return nil, []effect{{owned: true}}, true
	}
	in, ok := flowInput(msg)
	if !ok {
		return []message.Message{r.reply(msg, r.cfg.UnsupportedText, nil)}, nil, true
	}
	res, ok := r.stepFlow(ctx, conv, in, caps, pure)
	if !ok {
		return nil, nil, false
	}
	if res.Handled {
		conv.Misses = 0
		replies, effects = r.perform(msg, res.Actions)
		return replies, effects, true
	}
	if in.Kind == flows.InputEvent {
		// Events nobody configured an answer for (an unfollow, a menu view)
		// get none.
		return nil, nil, true
	}
	if pure {
		return nil, nil, false
	}
	replies, effects = r.fallback(ctx, conv, msg, caps, in)
	return replies, effects, true
}

func noteCustomer(conv *Conversation, msg message.Message) {
	if msg.From.ID != "" {
		conv.Customer.ID = msg.From.ID
	}
	if msg.From.Name != "" {
		conv.Customer.Name = msg.From.Name
	}
	if msg.From.UnionID != "" {
		conv.Customer.UnionID = msg.From.UnionID
	}
	conv.Customer.Role = message.RoleCustomer
	conv.LastInbound = msg.Timestamp
	conv.Turns++
}

// runFlow runs the engine (with its HTTP steps) on conv's flow state.
func (r *Router) runFlow(ctx context.Context, conv *Conversation, in flows.Input, caps adapters.Capabilities) flows.Result {
	res, _ := r.stepFlow(ctx, conv, in, caps, false)
	return res
}

// stepFlow is runFlow, or with pure set the engine alone: ok is false,
// and conv unchanged, when the flow needs an HTTP step.
func (r *Router) stepFlow(ctx context.Context, conv *Conversation, in flows.Input, caps adapters.Capabilities, pure bool) (flows.Result, bool) {
	in.Buttons = caps.Buttons
	in.Vars = r.flowVars()
	if in.Now.IsZero() {
		in.Now = r.clock.Now()
	}
	in.Contact = conv.Contact
	if in.Contact.ID == "" {
		in.Contact.ID = conv.Customer.ID
	}
	if in.Contact.Name == "" {
		in.Contact.Name = conv.Customer.Name
	}
	var res flows.Result
	if pure {
		var ok bool
		if res, ok = r.runner.RunPure(conv.Flow, in); !ok {
			return res, false
		}
	} else {
		res = r.runner.Run(ctx, conv.Flow, in)
	}
	conv.Flow = res.State
	for _, w := range res.Warnings {
		r.log.Warn("flow warning", zap.String("conversation", conv.ID), zap.String("warning", w))
	}
	return res, true
}

// flowInput turns an inbound message into the engine's input. Messages with
// no text and no event (a picture, a sticker, a voice note without
// recognition) cannot be answered by flows: ok is false.
func flowInput(msg message.Message) (flows.Input, bool) {
	in := flows.Input{Channel: msg.Channel, Now: msg.Timestamp}
	switch {
	case msg.Kind == message.KindEvent && msg.Event != nil:
		in.Kind, in.Event, in.EventKey = flows.InputEvent, msg.Event.Type, msg.Event.Key
	case msg.Text != "":
		in.Kind, in.Text = flows.InputText, msg.Text
	default:
		return in, false
	}
	return in, true
}

// perform turns the engine's say actions into replies; every other action
// becomes an effect for after the commit (timers included: scheduling one
// before the commit could fire it against a state that never existed).
func (r *Router) perform(in message.Message, actions []flows.Action) ([]message.Message, []effect) {
	var out []message.Message
	var effects []effect
	for _, a := range actions {
		switch a.Kind {
		case flows.ActionSay:
			out = append(out, r.reply(in, a.Text, a.Choices))
		default:
			effects = append(effects, effect{action: a})
		}
	}
	return out, effects
}

// reply builds a bot message answering in.
func (r *Router) reply(in message.Message, text string, choices []message.Choice) message.Message {
	return message.Message{
		Channel:        in.Channel,
		Account:        in.Account,
		ConversationID: in.ConversationID,
		From:           message.Party{Role: message.RoleBot, Name: r.cfg.BotName},
		To:             in.From,
		Kind:           message.KindText,
		Text:           text,
		Choices:        choices,
		Reply:          message.ReplyContext{Token: in.Reply.Token, TokenExpires: in.Reply.TokenExpires},
		Timestamp:      r.clock.Now(),
		Meta:           in.Meta,
	}
}
