package router

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/kefu-gateway/kefu/adapters"
	"github.com/kefu-gateway/kefu/adapters/message"
	"go.uber.org/zap"
)

// oneTrip answers t in a single Redis round trip when it can: from the
// state this process committed last for the conversation (oneTripStates)
// and the contact it remembers for the sender (ContactRecaller), it runs
// the turn first and then sends the commit, which observes the contact in
// the same script. The commit script checks what the answer assumed (the
// message unseen, the version, the bot in charge, no deferred replies,
// the contact unchanged), marks the message seen and moves the contact's
// times only when it commits; see commitScript. A two-trip turn sends the
// dedup mark, observation and load first, and the commit once the answer
// is known.
//
// It tries only what needs no I/O to answer (a flow without HTTP steps,
// an unsupported kind) and nothing an interceptor may take: a stale guess
// then costs a flow step, never a second call to a shop's API or an LLM,
// and a platform's retry never repeats one.
//
// done is true when the turn is finished (committed, or a duplicate).
// Otherwise it continues on the two-trip path, which observes the contact
// as for any turn: a refused commit wrote nothing.
func (r *Router) oneTrip(ctx context.Context, t *turn, dedupKey string, start time.Time, knownOnce func()) (done bool, err error) {
	if !r.oneTripOK || !r.oneTripGate.allow() || !r.noInterceptorWants(t.msg) {
		return false, nil
	}
	cached, ok := r.states.get(t.msg.ConversationID)
	if !ok {
		return false, nil
	}
	msg := t.msg
	var recalled *RecalledContact
	if r.contacts != nil && msg.IsCustomer() && msg.From.ID != "" {
		recaller, ok := r.contacts.(ContactRecaller)
		if !ok {
			return false, nil
		}
		rec, ok := recaller.Recall(observedMessage(msg, t.caps))
		if !ok {
			return false, nil
		}
		recalled = &rec
	}
	conv := &Conversation{}
	if err := decodeJSON(cached.state, conv); err != nil {
		r.states.drop(msg.ConversationID)
		return false, nil
	}
	conv.Version = cached.version
	var touch []any
	if recalled != nil {
		if len(recalled.TouchArgs) != touchArgs {
			return false, nil
		}
		conv.Contact, touch = recalled.View.Contact, recalled.TouchArgs
	}
	replies, effects, ok := r.respond(ctx, conv, msg, t.caps, true)
	if !ok {
		r.oneTrips.WithLabelValues("needs_io").Inc()
		return false, nil
	}

	pipe := r.rdb.Pipeline()
	entries := append([]message.Message{msg}, replies...)
	call, err := r.queueCommit(ctx, pipe, conv, commitOptions{
		botReplies:     hasBotReply(replies),
		publish:        t.caps.TranscriptDelivery,
		numberOutbound: len(replies) > 0 && t.repliesGoActive(),
		oneTrip:        &oneTripCommit{dedupKey: dedupKey, touch: touch},
	}, entries)
	if err != nil {
		return false, err
	}
	if err := r.batch.Exec(ctx, pipe.Cmds()); err != nil {
		return false, fmt.Errorf("committing turn: %w", err)
	}
	ids, seq, err := call.result(ctx)
	switch {
	case err == nil:
		r.oneTripGate.record(false)
		r.oneTrips.WithLabelValues("committed").Inc()
		knownOnce()
		if recalled != nil && recalled.Touched != nil {
			recalled.Touched()
		}
		r.committed(ctx, t, conv, msg, start, nil, replies, ids[1:], seq, effects)
		return true, nil
	case errors.Is(err, errSeen):
		r.oneTrips.WithLabelValues("duplicate").Inc()
		t.dup = true
		knownOnce()
		r.dropDuplicate(t)
		return true, nil
	case errors.Is(err, errConflict), errors.Is(err, errHumanOwned), errors.Is(err, errContactChanged), errors.Is(err, errDeferred):
		r.oneTripGate.record(true)
		r.oneTrips.WithLabelValues("changed").Inc()
	default:
		// The commit failed without a refusal (say Redis lost the script
		// and loading it failed): the two-trip path tries again.
		r.log.Warn("one-trip commit failed", zap.String("conversation", msg.ConversationID), zap.Error(err))
	}
	// A refused commit wrote nothing, the contact's times included: the
	// two-trip turn observes the contact as any other.
	return false, nil
}

// observedMessage is msg as the contact observation takes it: with the
// channel's routing meta only, the rest describing this one message.
func observedMessage(msg message.Message, caps adapters.Capabilities) message.Message {
	msg.Meta = caps.RoutingMetaOf(msg.Meta)
	return msg
}

// noInterceptorWants reports whether every interceptor says it will not
// take msg (see InterceptPredictor).
func (r *Router) noInterceptorWants(msg message.Message) bool {
	for _, ic := range r.hooks.Interceptors {
		p, ok := ic.(InterceptPredictor)
		if !ok || p.MayIntercept(msg) {
			return false
		}
	}
	return true
}
