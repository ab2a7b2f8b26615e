package router

import (
	"context"

	"github.com/kefu-gateway/kefu/adapters/message"
	"github.com/kefu-gateway/kefu/flows"
)

// Interceptor sees every inbound message after deduplication and before
// the conversation is loaded. Returning true means it took the message
// (for example an agent writing from WeCom) and the router does nothing
// more with it. It runs under the conversation's lock, once per message.
type Interceptor interface {
	Intercept(ctx context.Context, msg message.Message) (bool, error)
}

// BurstExempter is implemented by interceptors whose messages must not be
// merged into a burst (see Capabilities.MergeWindow): only the last
// message of a burst reaches the interceptors, so an agent typing several
// lines quickly would lose all but the last. ExemptFromBurst must be cheap
// and do no I/O; an exempt message is handled at once, on its own.
type BurstExempter interface {
	ExemptFromBurst(msg message.Message) bool
}

// InterceptPredictor is implemented by interceptors that can tell, cheaply
// and without I/O, which messages they may take. The router answers a
// message in one round trip (see oneTrip) only when no interceptor may
// take it: it runs no interceptor then. Every message passes an
// interceptor without it through the two-trip path.
type InterceptPredictor interface {
	MayIntercept(msg message.Message) bool
}

// OwnedHandler receives inbound messages of conversations a human owns
// (Conversation.Owner is set), after they are recorded in the transcript.
// The bot never answers such messages; the handler relays them to the
// agent, answers queue commands, and so on, delivering anything the
// customer should see with Router.Deliver.
type OwnedHandler interface {
	HandleOwned(ctx context.Context, conv Conversation, msg message.Message) error
}

// EffectRunner carries out the flow actions the router does not handle
// itself (handoff, follow-ups, contact updates ...). It runs after the
// turn's state and replies are committed and handed to the channel, in
// action order, once per turn.
type EffectRunner interface {
	RunEffect(ctx context.Context, conv Conversation, in message.Message, a flows.Action) error
}

// Hooks are the router's extension points; nil ones are skipped.
type Hooks struct {
	Interceptors []Interceptor
	Owned        OwnedHandler
	Effects      EffectRunner
}

// SetHooks installs the extension points. Call before accepting messages.
func (r *Router) SetHooks(h Hooks) { r.hooks = h }
