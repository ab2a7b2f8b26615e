package handoff

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
	"github.com/kefu-gateway/kefu/adapters/message"
	"github.com/kefu-gateway/kefu/flows"
	"github.com/kefu-gateway/kefu/router"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// ReasonOperator is the reason of an operator's handoff that gives none.
const ReasonOperator = "operator"

// Request hands a conversation to a human. RunEffect calls it for flow
// handoff actions (a flow's handoff step, the global 人工 command, the
// router's repeated-miss policy); the operator API calls it through
// RequestByID. in is
// the customer's message that led to it (its Meta reaches the 微信客服
// adapter); it may be zero. queue "" is handoff.default_queue.
//
// The customer is queued and told their position, or, when the queue is
// closed or has no agents, told so and offered to leave a message. A
// conversation already in a handoff is not queued twice: the customer is
// told where they stand. On 微信客服 accounts listed in kf_servicer the
// conversation goes to WeCom's own reception instead.
func (s *Service) Request(ctx context.Context, conv router.Conversation, in message.Message, queue, reason string) error {
	q, err := s.queue(queue)
	if err != nil {
		return fmt.Errorf("requesting handoff: %w", err)
	}
	r := &Record{
		Conversation: conv.ID, Channel: conv.Channel, Account: conv.Account, Customer: conv.Customer,
		Queue: q.ID, Reason: reason, Meta: in.Meta,
	}
	if r.Conversation == "" {
		r.Conversation, r.Channel, r.Account = in.ConversationID, in.Channel, in.Account
	}
	if r.Customer.ID == "" {
		r.Customer = in.From
	}
	r.Customer.Role = message.RoleCustomer
	if r.Conversation == "" || r.Channel == "" || r.Account == "" {
		return errors.New("requesting handoff: the conversation's id, channel and account are required")
	}
	log := s.log.With(zapConv(r.Conversation), zapQueue(q.ID))
	now := s.clock.Now()

	if k, ok := s.kf[r.Account]; ok && r.Channel == KFChannel {
		err := s.toServicer(ctx, r, k)
		if err == nil {
			return nil
		}
		// Better kefu's own agents than nobody.
		s.logErr("handing to WeCom's reception failed; using kefu's agents", err, zapConv(r.Conversation))
	}
	if h := s.hours(q); !h.Open(now) {
		text := q.OutOfHoursMessage
		if text == "" {
			text = s.cfg.Texts.OutOfHours
		}
		opens := "待定"
		if at, ok := h.NextOpen(now); ok {
			opens = at.In(h.location()).Format("01-02 15:04")
		}
		log.Info("handoff requested out of business hours")
		return s.offerMessage(ctx, r, "out_of_hours", fill(text, vars{Queue: q.Name, Opens: opens}))
	}
	if len(s.queueAgents[q.ID]) == 0 {
		log.Warn("handoff requested for a queue no configured agent serves")
		return s.offerMessage(ctx, r, "no_agents", s.cfg.Texts.NoAgents)
	}

	r.ID = newID()
	res, err := s.begin(ctx, r, StatusQueued, now)
	if err != nil {
		return err
	}
	if res.active != "" {
		s.m.requests.WithLabelValues(q.ID, "already").Inc()
		return s.tellStanding(ctx, res.active, res.agent, res.queue, r)
	}
	if _, err := s.setOwner(ctx, r.Conversation, OwnerQueuePrefix+q.ID); err != nil {
		return err
	}
	s.m.requests.WithLabelValues(q.ID, "queued").Inc()
	log.Info("conversation queued for a human", zap.String("handoff", r.ID), zap.Int("position", res.position))
	timer := TimerPayload{Conversation: r.Conversation, Handoff: r.ID}
	t, err := NewQueueTimeoutTask(timer, s.dueIn(s.cfg.QueueTimeout), asynq.TaskID(timerID("timeout", timer)))
	s.logErr("scheduling the queue timeout failed", s.enqueue(ctx, t, err), zapConv(r.Conversation))

	// Try to assign at once: when an agent is free the customer hears
	// "客服小王为您服务" instead of a queue position.
	assigned, err := s.assignQueue(ctx, q.ID)
	if err != nil {
		log.Warn("immediate assignment failed; the assign task will retry", zap.Error(err))
		s.triggerAssign(ctx, q.ID)
	}
	for _, c := range assigned {
		if c == r.Conversation {
			return nil
		}
	}
	pos, err := s.rdb.ZRank(ctx, s.keys.queue(q.ID), r.Conversation).Result()
	if errors.Is(err, redis.Nil) {
		return nil // taken meanwhile by another worker, which greets the customer
	}
	if err != nil {
		return fmt.Errorf("reading queue position: %w", err)
	}
	return s.tellPosition(ctx, r, int(pos)+1, s.cfg.Texts.Queued)
}

// RequestByID is Request for a conversation known only by its id (the
// operator API). It fails with ErrUnknownConversation when kefu holds no
// state for it.
func (s *Service) RequestByID(ctx context.Context, convID, queue, reason string) error {
	conv, err := s.conversation(ctx, convID)
	if err != nil {
		return err
	}
	return s.Request(ctx, *conv, message.Message{}, queue, reason)
}

// RunEffect carries out flow actions of kind handoff (a flow's handoff
// step, the global 人工 command, the router's repeated-miss policy) by
// calling Request with the action's queue and reason. It implements
// router.EffectRunner; actions of other kinds are not the handoff's and
// are ignored, so a runner dispatching by kind may call it for every
// action. An unknown queue (a flow naming a queue the configuration lacks)
// falls back to the default queue: the customer asked for a human and gets
// one.
func (s *Service) RunEffect(ctx context.Context, conv router.Conversation, in message.Message, a flows.Action) error {
	if a.Kind != flows.ActionHandoff {
		return nil
	}
	err := s.Request(ctx, conv, in, a.Queue, a.Reason)
	if errors.Is(err, ErrUnknownQueue) {
		s.log.Warn("a flow asked for an unknown handoff queue; using the default queue", zapQueue(a.Queue), zapConv(conv.ID))
		return s.Request(ctx, conv, in, "", a.Reason)
	}
	return err
}

// conversation loads a conversation's state as the router keeps it.
func (s *Service) conversation(ctx context.Context, id string) (*router.Conversation, error) {
	vals, err := s.rdb.HMGet(ctx, s.keys.Conversation(id), "d", "o").Result()
	if err != nil {
		return nil, fmt.Errorf("loading conversation: %w", err)
	}
	d, _ := vals[0].(string)
	if d == "" {
		return nil, fmt.Errorf("%w: %q", ErrUnknownConversation, id)
	}
	var c router.Conversation
	if err := json.Unmarshal([]byte(d), &c); err != nil {
		return nil, fmt.Errorf("decoding conversation %q: %w", id, err)
	}
	c.Owner, _ = vals[1].(string)
	if c.ID == "" {
		c.ID = id
	}
	return &c, nil
}

type begun struct {
	position int
	// active is the status of a handoff already under way ("" = started one).
	active, agent, queue string
}

// begin starts r's handoff in status st, unless one is under way.
func (s *Service) begin(ctx context.Context, r *Record, st Status, now time.Time) (begun, error) {
	args := append([]any{r.Conversation, string(st), now.UnixMilli(), r.ID}, recordFields(r)...)
	res, err := beginScript.Run(ctx, s.rdb, []string{s.keys.record(r.Conversation), s.keys.queue(r.Queue)}, args...).Slice()
	if err != nil {
		return begun{}, fmt.Errorf("starting handoff: %w", err)
	}
	if str(res, 0) == "active" {
		return begun{active: str(res, 1), agent: str(res, 2), queue: str(res, 3)}, nil
	}
	n, _ := res[1].(int64)
	return begun{position: int(n)}, nil
}

// recordFields are the field, value pairs a new record starts with.
func recordFields(r *Record) []any {
	meta := ""
	if len(r.Meta) > 0 {
		b, _ := json.Marshal(r.Meta)
		meta = string(b)
	}
	return []any{fQueue, r.Queue, fReason, r.Reason, fChannel, r.Channel, fAccount, r.Account,
		fCustomer, r.Customer.ID, fName, r.Customer.Name, fUnion, r.Customer.UnionID, fMeta, meta, fWhy, r.Why}
}

// tellStanding answers a request made while a handoff is under way.
func (s *Service) tellStanding(ctx context.Context, st, agent, queue string, r *Record) error {
	switch Status(st) {
	case StatusQueued:
		pos, err := s.rdb.ZRank(ctx, s.keys.queue(queue), r.Conversation).Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			return fmt.Errorf("reading queue position: %w", err)
		}
		return s.tellPosition(ctx, r, int(pos)+1, s.cfg.Texts.Position)
	case StatusAssigned:
		name := agent
		if a := s.agents[agent]; a != nil {
			name = a.Name
		}
		return s.tell(ctx, r, fill(s.cfg.Texts.AlreadyServing, vars{Agent: name}))
	case StatusMessage:
		return s.tell(ctx, r, s.cfg.Texts.LeaveMessageOffer)
	}
	return nil
}

// tellPosition tells the customer their place and remembers it, so updates
// are sent only when it improves (and not too often).
func (s *Service) tellPosition(ctx context.Context, r *Record, pos int, text string) error {
	if err := s.tell(ctx, r, fill(text, vars{Position: pos})); err != nil {
		return err
	}
	return s.rdb.HSet(ctx, s.keys.record(r.Conversation), fPosition, pos, fPositionAt, ms(s.clock.Now())).Err()
}

// offerMessage tells the customer nobody can serve them now and, when
// leaving a message is enabled, keeps their next message for the agents.
func (s *Service) offerMessage(ctx context.Context, r *Record, why, text string) error {
	s.m.requests.WithLabelValues(r.Queue, why).Inc()
	if !s.cfg.LeaveMessage.Enabled {
		return s.tell(ctx, r, text)
	}
	r.ID, r.Why = newID(), why
	now := s.clock.Now()
	res, err := s.begin(ctx, r, StatusMessage, now)
	if err != nil {
		return err
	}
	if res.active != "" {
		return s.tellStanding(ctx, res.active, res.agent, res.queue, r)
	}
	return s.startMessageStep(ctx, r, text)
}

// startMessageStep sets the owner for the leave-message step, tells the
// customer and starts its timer. The record is already in StatusMessage.
func (s *Service) startMessageStep(ctx context.Context, r *Record, text string) error {
	if _, err := s.setOwner(ctx, r.Conversation, OwnerMessagePrefix+r.Queue); err != nil {
		return err
	}
	timer := TimerPayload{Conversation: r.Conversation, Handoff: r.ID}
	t, err := NewMessageTimeoutTask(timer, s.dueIn(s.cfg.LeaveMessage.Timeout), asynq.TaskID(timerID("msg", timer)))
	s.logErr("scheduling the leave-message timeout failed", s.enqueue(ctx, t, err), zapConv(r.Conversation))
	return s.tell(ctx, r, text, s.cfg.Texts.LeaveMessageOffer)
}

// toServicer hands a 微信客服 conversation to WeCom's own reception.
func (s *Service) toServicer(ctx context.Context, r *Record, k KFServicerConfig) error {
	ad, ok := s.adapters.Lookup(KFChannel, r.Account)
	tr, can := ad.(ServicerTransferrer)
	if !ok || !can {
		return fmt.Errorf("the %s adapter of %q cannot transfer to WeCom servicers", KFChannel, r.Account)
	}
	rec := *r
	rec.ID = newID()
	res, err := s.begin(ctx, &rec, StatusServicer, s.clock.Now())
	if err != nil {
		return err
	}
	if res.active != "" {
		return s.tellStanding(ctx, res.active, res.agent, res.queue, &rec)
	}
	if err := tr.TransferWithNotice(ctx, rec.Customer, openKfID(rec.Meta, rec.Conversation), k.Servicer, s.cfg.Texts.Servicer); err != nil {
		_, _, ferr := s.finish(ctx, rec.Conversation, rec.ID, []Status{StatusServicer}, StatusClosed)
		s.logErr("closing a failed servicer transfer failed", ferr, zapConv(rec.Conversation))
		return fmt.Errorf("transferring to WeCom servicers: %w", err)
	}
	s.m.requests.WithLabelValues(rec.Queue, "servicer").Inc()
	s.log.Info("conversation handed to WeCom's reception", zapConv(rec.Conversation), zap.String("servicer", k.Servicer))
	_, err = s.setOwner(ctx, rec.Conversation, kfOwner(k.Servicer))
	return err
}

// str returns element i of a script reply as a string.
func str(res []any, i int) string {
	if i >= len(res) {
		return ""
	}
	switch v := res[i].(type) {
	case string:
		return v
	case int64:
		return fmt.Sprint(v)
	}
	return ""
}
