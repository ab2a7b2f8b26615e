// Package followup reaches customers on kefu's own initiative: follow-ups
// scheduled by flows, agents and operators ("24 h after asking about a
// size, send the size guide"), and — through Outreach, shared with package
// campaign — every message kefu starts. Each send is checked again when it
// is due: opted out, quiet hours in the contact's time zone (deferred to
// their end), a human serving the customer, the channel's reply window and
// quota (falling back to a template message where configured), the shared
// per-channel rate limit. The package also holds the inbound interceptor
// that keeps contacts current and handles 退订 / TD / STOP.
package followup

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/kefu-gateway/kefu/adapters"
	"github.com/kefu-gateway/kefu/adapters/message"
	"github.com/kefu-gateway/kefu/internal/clock"
	"github.com/kefu-gateway/kefu/internal/contacts"
	"github.com/kefu-gateway/kefu/internal/metrics"
	"github.com/kefu-gateway/kefu/internal/ratelimit"
	"github.com/kefu-gateway/kefu/internal/store"
	"github.com/kefu-gateway/kefu/router"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// Recorder writes messages to transcripts without sending them;
// *router.Router implements it.
type Recorder interface {
	Record(ctx context.Context, d router.Delivery) ([]message.Message, error)
}

// Deliverer records and sends; *router.Router implements it.
type Deliverer interface {
	Recorder
	Deliver(ctx context.Context, d router.Delivery) ([]message.Message, error)
}

// FlowStarter starts a flow in a conversation on kefu's own initiative (a
// follow-up or campaign whose content is a flow): it runs the flow's first
// steps, commits the state and delivers what the flow says. Only the ID,
// Channel, Account and Customer of conv are set. It must return
// router.ErrHumanOwned when a human owns the conversation. The router
// implements it.
type FlowStarter = router.FlowStarter

// AdapterLookup finds a channel account's adapter (adapters.Set.Lookup).
type AdapterLookup func(channel, account string) (adapters.Adapter, bool)

// Deps is what Outreach needs.
type Deps struct {
	Redis    redis.UniversalClient
	Keys     store.Keys
	Contacts *contacts.Store
	Lookup   AdapterLookup
	// Recorder is the router (Record); required.
	Recorder Recorder
	// Flows starts flows; nil refuses flow content with ReasonNoFlows.
	Flows FlowStarter
	// Limits are the shared per-channel rate limits; nil = unlimited.
	Limits  *ratelimit.Channels
	Clock   clock.Clock
	Log     *zap.Logger
	Metrics *metrics.Metrics
}

// Outreach sends messages kefu starts itself, after the checks every such
// message needs. Follow-ups and campaigns share it.
type Outreach struct {
	d   Deps
	cfg Config
}

// NewOutreach returns an Outreach.
func NewOutreach(d Deps, cfg Config) *Outreach {
	if d.Clock == nil {
		d.Clock = clock.Real{}
	}
	if d.Log == nil {
		d.Log = zap.NewNop()
	}
	if d.Metrics == nil {
		d.Metrics = metrics.New()
	}
	return &Outreach{d: d, cfg: cfg}
}

// Contacts returns the contact store.
func (o *Outreach) Contacts() *contacts.Store { return o.d.Contacts }

// Now is the injected clock's time.
func (o *Outreach) Now() time.Time { return o.d.Clock.Now() }

// Content is what to send: a text, or a flow to start.
type Content struct {
	Text string `json:"text,omitempty"`
	Flow string `json:"flow,omitempty"`
}

// Verdict is why a message cannot go now; the zero Verdict lets it go.
type Verdict struct {
	Outcome string // OutcomeSkipped or OutcomeDeferred; "" = go
	Reason  string
	Detail  string
	// Until is when quiet hours end (OutcomeDeferred).
	Until time.Time
}

// OK reports whether the message may go.
func (v Verdict) OK() bool { return v.Outcome == "" }

func skip(reason, detail string) Verdict {
	return Verdict{Outcome: OutcomeSkipped, Reason: reason, Detail: detail}
}

// Consent applies what depends only on the contact: opt-out and quiet hours.
func (o *Outreach) Consent(c *contacts.Contact, now time.Time) Verdict {
	if c.OptedOut {
		return skip(ReasonOptedOut, "")
	}
	if until, quiet := o.d.Contacts.QuietUntil(c, now); quiet {
		return Verdict{Outcome: OutcomeDeferred, Reason: ReasonQuietHours, Until: until,
			Detail: "quiet hours until " + until.Format(time.RFC3339)}
	}
	return Verdict{}
}

// Adapter finds the identity's channel account.
func (o *Outreach) Adapter(ident contacts.Identity) (adapters.Adapter, Verdict) {
	a, ok := o.d.Lookup(ident.Channel, ident.Account)
	if !ok {
		return nil, skip(ReasonNoChannel, ident.Channel+"/"+ident.Account)
	}
	return a, Verdict{}
}

// Window asks the adapter (when it tracks one) whether its platform lets a
// message reach the customer now.
func (o *Outreach) Window(ctx context.Context, a adapters.Adapter, ident contacts.Identity) (adapters.Window, error) {
	wc, ok := a.(adapters.WindowChecker)
	if !ok {
		return adapters.Window{Open: true, Remaining: -1}, nil
	}
	w, err := wc.Window(ctx, party(ident))
	if err != nil {
		return w, fmt.Errorf("checking %s reply window: %w", ident.Channel, err)
	}
	if w.Open && w.Remaining == 0 {
		w.Open = false
		if w.Reason == "" {
			w.Reason = "quota used"
		}
	}
	return w, nil
}

// Owners returns the owner of each conversation ("" = the bot), in one
// round trip.
func (o *Outreach) Owners(ctx context.Context, convs []string) ([]string, error) {
	pipe := o.d.Redis.Pipeline()
	cmds := make([]*redis.StringCmd, len(convs))
	for i, c := range convs {
		cmds[i] = pipe.HGet(ctx, o.d.Keys.Conversation(c), "o")
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("checking conversation owners: %w", err)
	}
	out := make([]string, len(convs))
	for i, c := range cmds {
		out[i] = c.Val()
	}
	return out, nil
}

// ConversationID is the identity's conversation, or the adapters'
// convention "<channel>:<account>:<user id>" for an identity that never
// wrote (one an operator linked or imported).
func ConversationID(ident contacts.Identity) string {
	if ident.ConversationID != "" {
		return ident.ConversationID
	}
	return ident.Channel + ":" + ident.Account + ":" + ident.ID
}

func party(ident contacts.Identity) message.Party {
	return message.Party{ID: ident.ID, UnionID: ident.UnionID, Role: message.RoleCustomer}
}

// ChannelBucket is the shared rate-limit bucket of the identity's channel
// account (unlimited when no limits are configured).
func (o *Outreach) ChannelBucket(ident contacts.Identity) ratelimit.Bucket {
	if o.d.Limits == nil {
		return ratelimit.Bucket{}
	}
	return o.d.Limits.Bucket(ident.Channel, ident.Account)
}

// Limiter is the limiter behind the channel limits (nil when none).
func (o *Outreach) Limiter() *ratelimit.Limiter {
	if o.d.Limits == nil {
		return nil
	}
	return o.d.Limits.Limiter()
}

// SendError is a send that did not go; Outcome and Reason classify it.
// Retry is true for temporary failures worth another attempt.
type SendError struct {
	Outcome string
	Reason  string
	Retry   bool
	Err     error
}

func (e *SendError) Error() string { return e.Reason + ": " + e.Err.Error() }
func (e *SendError) Unwrap() error { return e.Err }

// classify turns an adapter or router error into a SendError. sent says
// part of the message already reached the customer: then it is never
// retried.
func classify(err error, sent bool) *SendError {
	var se *SendError
	switch {
	case errors.As(err, &se):
		return se
	case errors.Is(err, router.ErrHumanOwned):
		return &SendError{Outcome: OutcomeSkipped, Reason: ReasonHumanOwned, Err: err}
	case errors.Is(err, adapters.ErrDeferred):
		return &SendError{Outcome: OutcomeSkipped, Reason: ReasonNoActiveAPI, Err: err}
	case errors.Is(err, adapters.ErrWindowClosed), errors.Is(err, adapters.ErrQuotaExceeded):
		return &SendError{Outcome: OutcomeSkipped, Reason: ReasonWindowClosed, Err: err}
	case errors.Is(err, adapters.ErrPermanent):
		return &SendError{Outcome: OutcomeFailed, Reason: ReasonPlatform, Err: err}
	case sent:
		return &SendError{Outcome: OutcomeFailed, Reason: ReasonError, Err: fmt.Errorf("part of the message was sent: %w", err)}
	}
	return &SendError{Outcome: OutcomeFailed, Reason: ReasonError, Retry: true, Err: err}
}

// MessageID derives a platform-safe outbound id (≤ 32 bytes of [0-9a-f],
// what 微信客服 send_msg accepts as msgid) from a stable key, so a platform
// that deduplicates on it drops a repeat.
func MessageID(key string) string {
	h := sha1.Sum([]byte(key))
	return hex.EncodeToString(h[:])[:28]
}

// Send delivers content to the identity now, without checks (callers run
// them first): a text goes through the adapter in parts the channel
// accepts, then into the transcript; a flow is started by the FlowStarter.
// key makes the outbound message ids stable. It returns nil or a
// *SendError.
func (o *Outreach) Send(ctx context.Context, a adapters.Adapter, c *contacts.Contact, ident contacts.Identity, content Content, key string) error {
	conv := ConversationID(ident)
	if content.Flow != "" {
		if o.d.Flows == nil {
			return &SendError{Outcome: OutcomeFailed, Reason: ReasonNoFlows, Err: errors.New("no flow starter configured")}
		}
		err := o.d.Flows.StartFlow(ctx, router.Conversation{ID: conv, Channel: ident.Channel, Account: ident.Account, Customer: party(ident), Meta: ident.Meta}, content.Flow)
		if err != nil {
			return classify(fmt.Errorf("starting flow %s: %w", content.Flow, err), false)
		}
		o.count(ident.Channel, "flow", OutcomeSent)
		return nil
	}
	caps := a.Capabilities()
	parts := []string{content.Text}
	if caps.MaxTextBytes > 0 && len(content.Text) > caps.MaxTextBytes {
		parts = message.SplitText(content.Text, caps.MaxTextBytes)
	}
	now := o.d.Clock.Now()
	msgs := make([]message.Message, len(parts))
	for i, p := range parts {
		msgs[i] = message.Message{ID: MessageID(key + "#" + strconv.Itoa(i)), Channel: ident.Channel, Account: ident.Account,
			ConversationID: conv, From: message.Party{Role: message.RoleBot}, To: party(ident), Kind: message.KindText,
			Text: p, Timestamp: now, Meta: ident.Meta}
	}
	d := router.Delivery{ConversationID: conv, Channel: ident.Channel, Account: ident.Account, Customer: party(ident), Messages: msgs}
	if caps.TranscriptDelivery {
		// The customer reads the transcript: recording is delivering, and
		// the owner check is part of the same atomic write.
		d.BotOnly = true
		if _, err := o.d.Recorder.Record(ctx, d); err != nil {
			return classify(err, false)
		}
		o.count(ident.Channel, "text", OutcomeSent)
		return nil
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.cfg.SendTimeout)
	defer cancel()
	for i := range msgs {
		// The platform call is not cut short by a worker shutting down: a
		// message half-sent is worse than a shutdown a moment later.
		if _, err := a.Send(sctx, msgs[i]); err != nil {
			if i > 0 {
				o.record(ctx, d, msgs[:i])
			}
			return classify(fmt.Errorf("sending %s message: %w", ident.Channel, err), i > 0)
		}
	}
	o.record(ctx, d, msgs)
	o.count(ident.Channel, "text", OutcomeSent)
	return nil
}

// SendTemplate sends the configured window fallback of the identity's
// channel account with text in its fields. ok is false when there is no
// fallback for it (or the adapter has no templates).
func (o *Outreach) SendTemplate(ctx context.Context, a adapters.Adapter, c *contacts.Contact, ident contacts.Identity, text string) (ok bool, err error) {
	f, found := o.cfg.fallback(ident.Channel, ident.Account)
	ts, can := a.(adapters.TemplateSender)
	if !found || !can {
		return false, nil
	}
	now := o.d.Clock.Now()
	fields := renderFields(f, text, c, o.d.Contacts.Location(c), now)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.cfg.SendTimeout)
	defer cancel()
	if _, err := ts.SendTemplate(sctx, party(ident), f.TemplateID, fields, f.URL); err != nil {
		return true, classify(fmt.Errorf("sending %s template message: %w", ident.Channel, err), false)
	}
	conv := ConversationID(ident)
	o.record(ctx, router.Delivery{ConversationID: conv, Channel: ident.Channel, Account: ident.Account, Customer: party(ident)},
		[]message.Message{{From: message.Party{Role: message.RoleBot}, To: party(ident), Kind: message.KindText, Text: text,
			Timestamp: now, Meta: map[string]string{"template_id": f.TemplateID}}})
	o.count(ident.Channel, "template", OutcomeSent)
	return true, nil
}

// record writes what was sent to the transcript. The message is out: a
// failure here is logged, not returned.
func (o *Outreach) record(ctx context.Context, d router.Delivery, msgs []message.Message) {
	d.Messages, d.BotOnly = msgs, false
	if _, err := o.d.Recorder.Record(context.WithoutCancel(ctx), d); err != nil {
		o.d.Metrics.Errors.WithLabelValues("outreach").Inc()
		o.d.Log.Warn("recording a sent message in the transcript failed", zap.String("conversation", d.ConversationID), zap.Error(err))
	}
}

// count adds to kefu_messages_out_total: kind is text, flow or template;
// result is prefixed "outreach_" to keep these apart from replies.
func (o *Outreach) count(channel, kind, result string) {
	o.d.Metrics.MessagesOut.WithLabelValues(channel, kind, "outreach_"+result).Inc()
}

// Count records in metrics an outcome that sent nothing (skipped, failed).
func (o *Outreach) Count(channel, outcome string) { o.count(channel, "text", outcome) }

func canTemplate(a adapters.Adapter) bool {
	_, ok := a.(adapters.TemplateSender)
	return ok
}

// SendTimeout bounds one platform call (followups.send_timeout).
func (o *Outreach) SendTimeout() time.Duration { return o.cfg.SendTimeout }

// Lookup finds a channel account's adapter.
func (o *Outreach) Lookup(channel, account string) (adapters.Adapter, bool) {
	return o.d.Lookup(channel, account)
}
