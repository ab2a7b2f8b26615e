// Package adapters is the contract between kefu's core and its channels.
//
// Each channel kind (wechat_oa, web, ...) lives in its own folder, registers a
// Factory in init(), and is switched on by one import line in adapters/all and
// one block under `channels:` in the configuration. The core never names a
// channel: it reads each adapter's Capabilities.
package adapters

import (
	"context"
	"errors"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/hibiken/asynq"
	"github.com/kefu-gateway/kefu/adapters/message"
)

// Capabilities describe what a channel can do; the router and outbox adapt
// replies to them.
type Capabilities struct {
	// MaxTextBytes is the longest text one message may carry (UTF-8 bytes);
	// longer replies are split into parts. 0 means no limit.
	MaxTextBytes int
	// PassiveBudget is how long an inbound HTTP request may wait for replies
	// to carry in its response. 0 means the channel has no passive reply.
	PassiveBudget time.Duration
	// Buttons is true when the channel renders quick-reply choices itself;
	// otherwise they are appended as a numbered text menu.
	Buttons bool
	// Markdown is true when the channel renders markdown; otherwise it is stripped.
	Markdown bool
	// TranscriptDelivery is true when customers read the transcript directly
	// (the web widget): writing a reply to the transcript delivers it, and no
	// active send is made.
	TranscriptDelivery bool
	// Streaming is true when the channel shows replies while they are being
	// generated (the web widget): LLM answers are streamed token by token.
	Streaming bool
	// MergeWindow, when positive, merges a burst of short text messages
	// into one turn: each text waits this long for another from the same
	// customer, and the last of the burst is answered with all of them.
	// Chat apps where customers type one thought over several lines
	// (WeChat, WeCom, DingTalk) want ~1-2 s; keep it well inside
	// PassiveBudget.
	MergeWindow time.Duration
	// RoutingMeta lists the Meta keys of an inbound message that address
	// the customer on this account (a 微信客服 open_kfid, a DingTalk
	// conversation). The customer's contact keeps them from the last
	// message, and messages kefu starts itself (follow-ups, campaigns)
	// carry them. Other Meta keys describe one message (its type, a web
	// client id) and are not kept.
	RoutingMeta []string
}

// RoutingMetaOf returns the RoutingMeta keys of meta, or nil when it has
// none of them.
func (c Capabilities) RoutingMetaOf(meta map[string]string) map[string]string {
	var out map[string]string
	for _, k := range c.RoutingMeta {
		if v, ok := meta[k]; ok {
			if out == nil {
				out = make(map[string]string, len(c.RoutingMeta))
			}
			out[k] = v
		}
	}
	return out
}

// SendResult is what the platform said about a sent message.
type SendResult struct {
	// PlatformID is the platform's id for the sent message, when it gives one.
	PlatformID string
}

// Adapter is one configured account of a channel.
type Adapter interface {
	// Channel is the kind name ("wechat_oa"); Account the configured id.
	Channel() string
	Account() string
	Capabilities() Capabilities
	// Send delivers msg through the platform's active API. Errors wrapping
	// ErrPermanent are not retried; ErrDeferred keeps the message for the
	// customer's next inbound message.
	Send(ctx context.Context, msg message.Message) (SendResult, error)
}

// Channel is every configured account of one kind, with its HTTP routes.
type Channel interface {
	Adapters() []Adapter
	// Mount adds the kind's inbound routes. It is called once, even when no
	// account is configured, so unknown account ids get a 404.
	Mount(r fiber.Router)
}

// Runner is implemented by channels with long-lived work, such as a
// WebSocket hub or a DingTalk stream connection. Run returns when ctx ends.
type Runner interface {
	Run(ctx context.Context) error
}

// TaskProvider is implemented by channels with background tasks of their own
// (for example pulling 微信客服 messages). The handlers run in the workers.
type TaskProvider interface {
	Tasks() map[string]asynq.Handler
}

// Inbound is how adapters hand normalized messages to the router.
type Inbound interface {
	// Accept starts handling msg and returns its Turn at once; the work goes
	// on in the background. A message already seen (same channel, account
	// and ID) yields a Turn whose Duplicate is true.
	Accept(ctx context.Context, msg message.Message) (Turn, error)
}

// Turn is the router's handling of one inbound message.
type Turn interface {
	// Duplicate reports whether the message was a retry of one already
	// accepted. It blocks until that is known (one Redis round trip).
	Duplicate() bool
	// Known is closed once Duplicate no longer blocks, for callers that
	// wait with a deadline.
	Known() <-chan struct{}
	// TakePassive waits up to wait for the turn's replies. When they are
	// ready it returns them and ok=true: the caller now owns delivering them
	// (in its HTTP response) and must hand back any it cannot deliver with
	// Return. Otherwise ok=false and the router delivers them through the
	// active API once ready.
	TakePassive(ctx context.Context, wait time.Duration) (replies []message.Message, ok bool)
	// Return gives back replies taken with TakePassive that did not fit the
	// passive response; the router sends them actively, in order.
	Return(unsent []message.Message)
	// Done is closed when the turn has finished.
	Done() <-chan struct{}
	// Err is why the turn failed (Redis unreachable, ...), valid after Done.
	// Adapters answer such turns with a 5xx so the platform retries later.
	Err() error
}

// Send errors. Adapters wrap them (fmt.Errorf("sending ...: %w", ErrWindowClosed))
// so the outbox can decide what to do without knowing the platform.
var (
	// ErrPermanent marks a failure that retrying cannot fix.
	ErrPermanent = errors.New("permanent delivery failure")
	// ErrWindowClosed: the platform's reply window for this customer has
	// ended (WeChat 45015). Permanent.
	ErrWindowClosed = permanentError("reply window closed")
	// ErrQuotaExceeded: the customer's message quota inside the window is
	// used up (WeChat 45047). Permanent.
	ErrQuotaExceeded = permanentError("reply quota exceeded")
	// ErrDeferred: the account has no active API (an unverified official
	// account); the reply is kept and delivered with the next passive reply.
	ErrDeferred = errors.New("no active API: deferred to the customer's next message")
)

type permErr struct{ msg string }

func (e *permErr) Error() string        { return e.msg }
func (e *permErr) Is(target error) bool { return target == ErrPermanent }

func permanentError(msg string) error { return &permErr{msg} }

// Permanent wraps err so errors.Is(err, ErrPermanent) holds.
func Permanent(err error) error {
	if err == nil || errors.Is(err, ErrPermanent) {
		return err
	}
	return &wrappedPerm{err}
}

type wrappedPerm struct{ err error }

func (e *wrappedPerm) Error() string        { return e.err.Error() }
func (e *wrappedPerm) Unwrap() error        { return e.err }
func (e *wrappedPerm) Is(target error) bool { return target == ErrPermanent }

// Window is what a platform currently allows a business to send a customer
// without the customer writing first.
type Window struct {
	// Open is true when a message may be sent now.
	Open bool
	// Remaining is how many more messages the quota allows (-1 = no quota).
	Remaining int
	// Closes is when the window ends (zero when it does not).
	Closes time.Time
	// Reason says why the window is closed ("48h window closed", "quota used").
	Reason string
}

// WindowChecker is implemented by adapters whose platform limits messages
// the business sends on its own (WeChat: 5 messages within 48 h of the
// customer's last message). Follow-ups, campaigns and agent replies check
// it at send time instead of sending blindly.
type WindowChecker interface {
	Window(ctx context.Context, customer message.Party) (Window, error)
}

// TemplateSender is implemented by adapters that can reach a customer
// outside the window with a pre-approved template (WeChat template
// messages, mini-program subscribe messages). Fields maps the template's
// field names to values.
type TemplateSender interface {
	SendTemplate(ctx context.Context, customer message.Party, templateID string, fields map[string]string, url string) (SendResult, error)
}
