package router

import (
	"context"

	"github.com/kefu-gateway/kefu/adapters/message"
	"github.com/kefu-gateway/kefu/flows"
	"github.com/redis/go-redis/v9"
)

// ContactObserver keeps customer profiles. The router queues the
// observation of each inbound customer message on the turn's first
// pipeline, so contacts cost no extra round trip.
type ContactObserver interface {
	// ObservePipe queues, on pipe, recording msg's sender (found or
	// created, last seen, consent keywords). The returned function reads
	// the result after the pipeline ran.
	ObservePipe(ctx context.Context, pipe redis.Pipeliner, msg message.Message) (func() (ContactView, error), error)
}

// ContactView is what a turn needs of the customer's profile.
type ContactView struct {
	// Contact is the profile as flows see it ({{contact.name}}, tags ...).
	Contact flows.Contact
	// Consent is set when the message was an opt-out or opt-in keyword
	// (退订 / TD / STOP, 订阅): flows must not see it, and ConsentReply (if
	// any) confirms it.
	Consent      bool
	ConsentReply string
}

// SetContacts installs the contact observer. Call before accepting messages.
func (r *Router) SetContacts(c ContactObserver) { r.contacts = c }

// ContactRecaller is implemented by contact observers that can tell,
// without asking Redis, what the observation of a message will find: the
// router then answers the message in one round trip (see oneTrip), its
// commit observing the contact in its own script (see RecalledContact).
type ContactRecaller interface {
	// Recall returns, for a message that changes nothing but the contact's
	// times (never a consent keyword), the view the observation will give
	// and the observation itself; ok is false when the observation must
	// run before the turn.
	Recall(msg message.Message) (RecalledContact, bool)
}

// RecalledContact is a contact observation known before it runs.
type RecalledContact struct {
	View ContactView
	// TouchArgs are the observation as the one-trip commit runs it, the
	// arguments of contacts.TouchLua's functions: contact_touch_check
	// refuses the commit, writing nothing, unless the contact is still the
	// one recalled (View holds), and contact_touch_apply then moves its
	// times.
	TouchArgs []any
	// Touched, when set, is called once a commit ran the observation (a
	// refused commit runs nothing).
	Touched func()
}
