package followup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
	"github.com/kefu-gateway/kefu/internal/contacts"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// ProcessTask sends a due follow-up (TypeSend) after checking, at send
// time, that it still should go: not replaced or cancelled, the customer
// has not replied (for cancel-on-reply ones) nor opted out, it is not the
// contact's quiet hours (else it moves to their end), no human is serving
// the customer, and the platform's window allows it (else the configured
// template fallback goes, or it is skipped with the reason). It then waits
// for the channel's shared rate limit, claims the follow-up atomically and
// sends it. A follow-up found mid-send after a crash is marked failed
// (interrupted), never sent twice.
func (s *Scheduler) ProcessTask(ctx context.Context, t *asynq.Task) error {
	var p SendPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.ContactID == "" || p.Key == "" {
		return fmt.Errorf("decoding follow-up task: bad payload: %w", asynq.SkipRetry)
	}
	c, rec, err := s.load(ctx, p.ContactID, p.Key)
	if err != nil {
		return err
	}
	if c == nil || rec == nil || rec.Gen != p.Gen {
		return nil // deleted, replaced or rescheduled meanwhile
	}
	fu := &firing{s: s, c: c, rec: rec}
	switch rec.Status {
	case StatusScheduled:
	case StatusSending:
		fu.finish(ctx, StatusSending, StatusFailed, ReasonInterrupted, "the worker stopped while sending; not sent again to avoid a duplicate")
		return nil
	default:
		return nil
	}
	return fu.run(ctx)
}

// load reads the contact and the record in one round trip.
func (s *Scheduler) load(ctx context.Context, contactID, key string) (*contacts.Contact, *Record, error) {
	pipe := s.o.d.Redis.Pipeline()
	cc := s.o.d.Contacts.GetPipe(ctx, pipe, contactID)
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, nil, fmt.Errorf("loading follow-up: %w", err)
	}
	c, err := cc.Result()
	if err != nil || c == nil {
		return nil, nil, err
	}
	// The contact may have been merged into another: its follow-ups moved
	// with it, so read them under the id the contact has now.
	raw, err := s.o.d.Redis.HGet(ctx, s.o.d.Contacts.Keys().Followups(c.ID), key).Result()
	if errors.Is(err, redis.Nil) {
		return c, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("loading follow-up: %w", err)
	}
	rec, err := decodeRecord(raw)
	if err != nil {
		return nil, nil, fmt.Errorf("decoding follow-up %s: %v: %w", key, err, asynq.SkipRetry)
	}
	return c, rec, nil
}

// firing is one attempt at sending a due follow-up.
type firing struct {
	s   *Scheduler
	c   *contacts.Contact
	rec *Record
}

func (f *firing) log() *zap.Logger {
	return f.s.o.d.Log.With(zap.String("contact", f.c.ID), zap.String("followup", f.rec.Key))
}

func (f *firing) finish(ctx context.Context, from, status, reason, detail string) {
	fields := map[string]any{"status": status, "reason": reason, "detail": detail}
	if f.s.patch(ctx, f.c.ID, f.rec.Key, f.rec.Gen, from, fields) && status != StatusSent {
		f.s.o.Count(f.rec.Channel, status)
		f.log().Info("follow-up not sent", zap.String("status", status), zap.String("reason", reason))
	}
}

func (f *firing) run(ctx context.Context) error {
	o, rec, c := f.s.o, f.rec, f.c
	now := o.Now()
	if rec.CancelOnReply && !c.LastInbound.IsZero() && c.LastInbound.UnixMilli() > rec.Lin {
		f.finish(ctx, StatusScheduled, StatusCancelled, ReasonReplied, "")
		return nil
	}
	v := o.Consent(c, now)
	if v.Outcome == OutcomeDeferred {
		return f.defer_(ctx, v.Until)
	}
	if !v.OK() {
		f.finish(ctx, StatusScheduled, StatusSkipped, v.Reason, v.Detail)
		return nil
	}
	ident := f.identity()
	a, v := o.Adapter(ident)
	if !v.OK() {
		f.finish(ctx, StatusScheduled, StatusSkipped, v.Reason, v.Detail)
		return nil
	}
	owners, err := o.Owners(ctx, []string{rec.ConversationID})
	if err != nil {
		return err
	}
	if owners[0] != "" {
		f.finish(ctx, StatusScheduled, StatusSkipped, ReasonHumanOwned, owners[0])
		return nil
	}
	w, err := o.Window(ctx, a, ident)
	if err != nil {
		return err
	}
	template := false
	if !w.Open {
		if _, can := o.cfg.fallback(ident.Channel, ident.Account); !can || rec.Text == "" || !canTemplate(a) {
			f.finish(ctx, StatusScheduled, StatusSkipped, ReasonWindowClosed, w.Reason)
			return nil
		}
		template = true
	}
	if l := o.Limiter(); l != nil {
		if err := l.Wait(ctx, o.ChannelBucket(ident)); err != nil {
			return err
		}
	}
	now = o.Now()
	claim, err := claimScript.Run(ctx, o.d.Redis, f.s.keys(c.ID), rec.Key, rec.Gen, now.UnixMilli(), now.UTC().Format(time.RFC3339Nano)).Text()
	if err != nil {
		return fmt.Errorf("claiming follow-up: %w", err)
	}
	switch claim {
	case "ok":
	case "interrupted":
		f.finish(ctx, StatusSending, StatusFailed, ReasonInterrupted, "the worker stopped while sending; not sent again to avoid a duplicate")
		return nil
	case "opted_out", "customer_replied":
		o.Count(rec.Channel, StatusSkipped)
		return nil
	default:
		return nil
	}
	if template {
		var sent bool
		if sent, err = o.SendTemplate(ctx, a, c, ident, rec.Text); !sent && err == nil {
			f.finish(ctx, StatusSending, StatusSkipped, ReasonWindowClosed, w.Reason)
			return nil
		}
	} else {
		err = o.Send(ctx, a, c, ident, Content{Text: rec.Text, Flow: rec.Flow}, TaskID(rec.Key, rec.Gen))
	}
	if err == nil {
		f.s.patch(ctx, c.ID, rec.Key, rec.Gen, StatusSending, map[string]any{"status": StatusSent, "template": template,
			"detail": map[bool]string{true: "window closed (" + w.Reason + "): sent as template", false: ""}[template]})
		return nil
	}
	var se *SendError
	if !errors.As(err, &se) {
		se = classify(err, false)
	}
	retried, _ := asynq.GetRetryCount(ctx)
	maxRetry, _ := asynq.GetMaxRetry(ctx)
	if se.Retry && retried < maxRetry {
		// Back to scheduled so the retry can claim it again.
		f.s.patch(ctx, c.ID, rec.Key, rec.Gen, StatusSending, map[string]any{"status": StatusScheduled, "detail": "retrying: " + se.Err.Error()})
		return fmt.Errorf("sending follow-up: %w", se)
	}
	status := StatusFailed
	if se.Outcome == OutcomeSkipped {
		status = StatusSkipped
	}
	f.finish(ctx, StatusSending, status, se.Reason, se.Err.Error())
	return nil
}

// identity is the identity the follow-up goes to, as the contact knows it
// now (it may have gained a UnionID since).
func (f *firing) identity() contacts.Identity {
	for _, id := range f.c.Identities {
		if id.Channel == f.rec.Channel && id.Account == f.rec.Account && id.ID == f.rec.CustomerID {
			if id.ConversationID == "" {
				id.ConversationID = f.rec.ConversationID
			}
			return id
		}
	}
	return contacts.Identity{Channel: f.rec.Channel, Account: f.rec.Account, ID: f.rec.CustomerID, ConversationID: f.rec.ConversationID}
}

// defer_ moves the follow-up to until (the end of quiet hours): a new task
// generation is queued first, then the record moves to it.
func (f *firing) defer_(ctx context.Context, until time.Time) error {
	s, rec := f.s, f.rec
	gen := rec.Gen + 1
	task, err := NewSendTask(SendPayload{ContactID: f.c.ID, Key: rec.Key, Gen: gen}, until)
	if err != nil {
		return err
	}
	if _, err := s.tasks.EnqueueContext(ctx, task); err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		return fmt.Errorf("deferring follow-up: %w", err)
	}
	if !s.patch(ctx, f.c.ID, rec.Key, rec.Gen, StatusScheduled, map[string]any{"gen": gen, "due": until.UTC(),
		"deferrals": rec.Deferrals + 1, "detail": "deferred by quiet hours"}) {
		s.dropTask(rec.Key, gen)
		return nil
	}
	f.log().Debug("follow-up deferred to the end of quiet hours", zap.Time("until", until))
	return nil
}
