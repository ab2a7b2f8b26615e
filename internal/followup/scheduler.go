package followup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hibiken/asynq"
	"github.com/kefu-gateway/kefu/adapters"
	"github.com/kefu-gateway/kefu/internal/contacts"
	"github.com/kefu-gateway/kefu/router"
	"github.com/kefu-gateway/kefu/workers"
	"go.uber.org/zap"
)

// Followup is a follow-up to schedule: what the flows engine's followup
// action carries (flows.Action: FollowupID, Delay or At, Text or Flow,
// CancelOnReply), or what an operator or agent asks for.
type Followup struct {
	// ID is stable per conversation: scheduling the same ID again replaces
	// the pending one.
	ID string `json:"id"`
	// Delay from now, or At a time; exactly one.
	Delay time.Duration `json:"-"`
	At    time.Time     `json:"-"`
	// Text to send, or Flow to start; exactly one.
	Text string `json:"text,omitempty"`
	Flow string `json:"flow,omitempty"`
	// CancelOnReply drops the follow-up when the customer writes (on any
	// channel) before it is due.
	CancelOnReply bool `json:"cancel_on_reply"`
	// Source says who scheduled it ("flow", "api", "agent:amy").
	Source string `json:"-"`
}

// ErrLimit is returned when a contact has too many pending follow-ups.
var ErrLimit = errors.New("too many pending follow-ups for this contact")

// ValidationError is an invalid follow-up, naming the field.
type ValidationError struct {
	Field string
	Msg   string
}

func (e *ValidationError) Error() string { return e.Field + ": " + e.Msg }

// Inspector deletes superseded tasks (asynq.Inspector); optional.
type Inspector interface {
	DeleteTask(queue, id string) error
}

// Scheduler schedules, cancels, lists and sends follow-ups. It handles
// TypeSend tasks.
type Scheduler struct {
	o     *Outreach
	tasks adapters.Enqueuer
	insp  Inspector
}

var _ asynq.Handler = (*Scheduler)(nil)

// NewScheduler returns a scheduler enqueueing on tasks. insp, when not
// nil, removes the task of a replaced or cancelled follow-up at once (it
// would otherwise wake at its time and do nothing).
func NewScheduler(o *Outreach, tasks adapters.Enqueuer, insp Inspector) *Scheduler {
	return &Scheduler{o: o, tasks: tasks, insp: insp}
}

// Outreach returns the scheduler's Outreach.
func (s *Scheduler) Outreach() *Outreach { return s.o }

const maxFollowupIDBytes = 128

func (s *Scheduler) validate(f *Followup, now time.Time) (time.Time, error) {
	if f.ID == "" || len(f.ID) > maxFollowupIDBytes || strings.ContainsAny(f.ID, "|\n") || !utf8.ValidString(f.ID) {
		return time.Time{}, &ValidationError{"id", fmt.Sprintf("must be 1-%d bytes without '|' or newlines", maxFollowupIDBytes)}
	}
	if (f.Delay != 0) == !f.At.IsZero() {
		return time.Time{}, &ValidationError{"delay", "give exactly one of delay and at"}
	}
	if f.Delay < 0 {
		return time.Time{}, &ValidationError{"delay", "must not be negative"}
	}
	if (f.Text == "") == (f.Flow == "") {
		return time.Time{}, &ValidationError{"text", "give exactly one of text and flow"}
	}
	if len(f.Text) > 4000 || !utf8.ValidString(f.Text) {
		return time.Time{}, &ValidationError{"text", "must be valid UTF-8 of at most 4000 bytes"}
	}
	due := f.At
	if f.Delay > 0 {
		due = now.Add(f.Delay)
	}
	if due.Before(now) {
		due = now
	}
	if due.Sub(now) > s.o.cfg.MaxDelay {
		return time.Time{}, &ValidationError{"delay", fmt.Sprintf("due %s, beyond followups.max_delay (%s)", due.Format(time.RFC3339), s.o.cfg.MaxDelay)}
	}
	return due, nil
}

// Schedule schedules f in a conversation (the EffectRunner calls it for
// the flows' followup action with the turn's conversation). The contact is
// created if the customer has none yet. Scheduling an ID already pending
// in the conversation replaces it.
func (s *Scheduler) Schedule(ctx context.Context, conv router.Conversation, f Followup) (*Record, error) {
	ident := contacts.Identity{Channel: conv.Channel, Account: conv.Account, ID: conv.Customer.ID,
		UnionID: conv.Customer.UnionID, ConversationID: conv.ID}
	if f.Source == "" {
		f.Source = "flow"
	}
	return s.schedule(ctx, "", ident, f)
}

// ScheduleFor schedules f for a contact on one of its identities.
func (s *Scheduler) ScheduleFor(ctx context.Context, contactID string, ident contacts.Identity, f Followup) (*Record, error) {
	return s.schedule(ctx, contactID, ident, f)
}

func (s *Scheduler) schedule(ctx context.Context, contactID string, ident contacts.Identity, f Followup) (*Record, error) {
	now := s.o.Now()
	due, err := s.validate(&f, now)
	if err != nil {
		return nil, err
	}
	if ident.Channel == "" || ident.Account == "" || ident.ID == "" {
		return nil, &ValidationError{"conversation", "channel, account and customer id are required"}
	}
	if contactID == "" {
		c, err := s.o.d.Contacts.UpdateByIdentity(ctx, ident, contacts.Update{})
		if err != nil {
			return nil, fmt.Errorf("finding the follow-up's contact: %w", err)
		}
		contactID = c.ID
	}
	conv := ConversationID(ident)
	rec := &Record{Key: conv + "|" + f.ID, ID: f.ID, ContactID: contactID, ConversationID: conv, Channel: ident.Channel,
		Account: ident.Account, CustomerID: ident.ID, Text: f.Text, Flow: f.Flow, CancelOnReply: f.CancelOnReply,
		Source: f.Source, Due: due.UTC(), Created: now.UTC(), Updated: now.UTC(), Status: StatusScheduled, U: now.UnixMilli()}
	b, err := json.Marshal(rec)
	if err != nil {
		return nil, fmt.Errorf("encoding follow-up: %w", err)
	}
	keys := s.keys(contactID)
	keep := due.Add(s.o.cfg.Retention).UnixMilli()
	res, err := scheduleScript.Run(ctx, s.o.d.Redis, keys, rec.Key, b, s.o.cfg.MaxPerContact, keep, now.UnixMilli()).Slice()
	if err != nil {
		return nil, fmt.Errorf("storing follow-up: %w", err)
	}
	switch st, _ := res[0].(string); st {
	case "nocontact":
		return nil, contacts.ErrNotFound
	case "limit":
		return nil, ErrLimit
	}
	rec.Gen, _ = res[1].(int64)
	oldGen, _ := res[2].(int64)
	oldStatus, _ := res[3].(string)
	task, err := NewSendTask(SendPayload{ContactID: contactID, Key: rec.Key, Gen: rec.Gen}, due)
	if err == nil {
		_, err = s.tasks.EnqueueContext(ctx, task)
	}
	if err != nil {
		s.patch(ctx, contactID, rec.Key, rec.Gen, StatusScheduled, map[string]any{"status": StatusFailed, "reason": ReasonError,
			"detail": "could not be queued: " + err.Error()})
		return nil, fmt.Errorf("queueing follow-up: %w", err)
	}
	if oldGen > 0 && oldStatus == StatusScheduled {
		s.dropTask(rec.Key, oldGen)
	}
	s.o.d.Log.Debug("follow-up scheduled", zap.String("contact", contactID), zap.String("key", rec.Key), zap.Time("due", due))
	return rec, nil
}

func (s *Scheduler) keys(contactID string) []string {
	k := s.o.d.Contacts.Keys()
	return []string{k.Contact(contactID), k.Followups(contactID)}
}

// dropTask removes a superseded task from the queue (best effort: a task
// left there finds its generation stale and does nothing).
func (s *Scheduler) dropTask(key string, gen int64) {
	if s.insp == nil {
		return
	}
	if err := s.insp.DeleteTask(workers.QueueDefault, TaskID(key, gen)); err != nil && !errors.Is(err, asynq.ErrTaskNotFound) {
		s.o.d.Log.Debug("removing a superseded follow-up task", zap.Error(err))
	}
}

// patch applies fields to a record still at gen and in status from ("*" =
// any unfinished); false when it moved on.
func (s *Scheduler) patch(ctx context.Context, contactID, key string, gen int64, from string, fields map[string]any) bool {
	now := s.o.Now()
	fields["u"], fields["updated"] = now.UnixMilli(), now.UTC().Format(time.RFC3339Nano)
	b, _ := json.Marshal(fields)
	res, err := patchScript.Run(context.WithoutCancel(ctx), s.o.d.Redis, s.keys(contactID), key, gen, from, b).Text()
	if err != nil {
		s.o.d.Log.Error("updating follow-up failed", zap.String("key", key), zap.Error(err))
		return false
	}
	return res == "ok"
}

// Cancel cancels the pending follow-up id of a conversation (the flows'
// followup cancel action). It reports whether one was pending.
func (s *Scheduler) Cancel(ctx context.Context, conv router.Conversation, id string) (bool, error) {
	c, err := s.o.d.Contacts.ByIdentity(ctx, contacts.Identity{Channel: conv.Channel, Account: conv.Account, ID: conv.Customer.ID})
	if errors.Is(err, contacts.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return s.CancelKey(ctx, c.ID, conv.ID+"|"+id, "")
}

// CancelKey cancels a contact's pending follow-up by key (operator API).
func (s *Scheduler) CancelKey(ctx context.Context, contactID, key, detail string) (bool, error) {
	raw, err := s.o.d.Redis.HGet(ctx, s.o.d.Contacts.Keys().Followups(contactID), key).Result()
	if err != nil {
		return false, nil
	}
	rec, err := decodeRecord(raw)
	if err != nil || rec.Status != StatusScheduled {
		return false, nil
	}
	if !s.patch(ctx, contactID, key, rec.Gen, StatusScheduled, map[string]any{"status": StatusCancelled, "reason": ReasonCancelled, "detail": detail}) {
		return false, nil
	}
	s.dropTask(key, rec.Gen)
	return true, nil
}

// List returns a contact's follow-ups, soonest due first. A pending
// cancel-on-reply follow-up the customer has since replied to is listed as
// cancelled: it will not be sent.
func (s *Scheduler) List(ctx context.Context, contactID string) ([]*Record, error) {
	c, err := s.o.d.Contacts.Get(ctx, contactID)
	if err != nil {
		return nil, err
	}
	all, err := s.o.d.Redis.HGetAll(ctx, s.o.d.Contacts.Keys().Followups(c.ID)).Result()
	if err != nil {
		return nil, fmt.Errorf("listing follow-ups: %w", err)
	}
	out := make([]*Record, 0, len(all))
	lin := c.LastInbound.UnixMilli()
	for _, raw := range all {
		r, err := decodeRecord(raw)
		if err != nil {
			continue
		}
		if r.Status == StatusScheduled && r.CancelOnReply && !c.LastInbound.IsZero() && lin > r.Lin {
			r.Status, r.Reason = StatusCancelled, ReasonReplied
		}
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Due.Before(out[j].Due) })
	return out, nil
}
