package handoff

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// errGone means the handoff changed (ended, or a new one started) since
// the caller looked; whatever the caller meant to do no longer applies.
var errGone = errors.New("the handoff changed meanwhile")

// finish moves conversation conv's handoff hid from one of the statuses
// in from to status to: out of its queue, off its agent. It returns the
// record as it was and the agent's next current conversation.
func (s *Service) finish(ctx context.Context, conv, hid string, from []Status, to Status, extra ...any) (*Record, string, error) {
	allowed := ","
	for _, st := range from {
		allowed += string(st) + ","
	}
	ttl := s.cfg.RecordTTL.Milliseconds()
	if to.Active() {
		ttl = 0
	}
	for attempt := 0; attempt < 5; attempt++ {
		r, err := s.readRecord(ctx, conv)
		if err != nil {
			return nil, "", err
		}
		if r == nil || r.ID != hid {
			return nil, "", errGone
		}
		agentKey, convsKey := s.keys.agent(r.Agent), s.keys.agentConvs(r.Agent)
		keys := []string{s.keys.record(conv), s.keys.queue(r.Queue), agentKey, convsKey, s.keys.claims()}
		args := append([]any{conv, hid, allowed, string(to), ms(s.clock.Now()), ttl, r.Agent, r.Queue}, extra...)
		res, err := finishScript.Run(ctx, s.rdb, keys, args...).Slice()
		if err != nil {
			return nil, "", fmt.Errorf("ending handoff: %w", err)
		}
		switch str(res, 0) {
		case "ok":
			if !to.Active() {
				s.m.ended.WithLabelValues(string(to)).Inc()
			}
			return r, str(res, 2), nil
		case "retry":
			continue
		default:
			return nil, "", errGone
		}
	}
	return nil, "", fmt.Errorf("ending handoff: %w", errGone)
}

// release ends an assigned conversation for its agent: how is resolved,
// returned (to the bot) or auto-resolved (the customer went quiet). The
// customer is told, asked for a rating after a resolve by the agent, and
// is back with the bot; the agent's freed capacity goes to the queue.
func (s *Service) release(ctx context.Context, r *Record, how Status, auto bool) (next string, err error) {
	extra := []any{}
	if auto {
		extra = append(extra, "auto", "1")
	}
	old, next, err := s.finish(ctx, r.Conversation, r.ID, []Status{StatusAssigned}, how, extra...)
	if err != nil {
		return "", err
	}
	if _, err := s.clearOwner(ctx, r.Conversation, old.owner()); err != nil {
		return next, err
	}
	s.log.Info("handoff ended", zapConv(r.Conversation), zap.String("agent", old.Agent), zap.String("status", string(how)), zap.Bool("auto", auto))
	switch {
	case how == StatusReturned:
		s.logErr("telling the customer failed", s.tell(ctx, old, s.cfg.Texts.ReturnedToBot), zapConv(r.Conversation))
	case auto:
		s.logErr("telling the customer failed", s.tell(ctx, old, s.cfg.Texts.AutoResolved), zapConv(r.Conversation))
	default:
		s.logErr("asking for a rating failed", s.resolvedWithRating(ctx, old), zapConv(r.Conversation))
	}
	s.triggerAssign(ctx, "")
	return next, nil
}

// requeue puts an assigned conversation back in a queue (a transfer to a
// queue, or its agent went away), at the place its request earned it.
func (s *Service) requeue(ctx context.Context, r *Record, queue string, tell bool) error {
	q, err := s.queue(queue)
	if err != nil {
		return err
	}
	res, err := requeueScript.Run(ctx, s.rdb,
		[]string{s.keys.record(r.Conversation), s.keys.agent(r.Agent), s.keys.agentConvs(r.Agent), s.keys.queue(q.ID), s.keys.claims()},
		r.Conversation, r.ID, r.Agent, q.ID).Slice()
	if err != nil {
		return fmt.Errorf("requeueing conversation: %w", err)
	}
	if str(res, 0) != "ok" {
		return errGone
	}
	if _, err := s.setOwner(ctx, r.Conversation, OwnerQueuePrefix+q.ID); err != nil {
		return err
	}
	r.Queue = q.ID
	if tell {
		s.logErr("telling the customer failed", s.tell(ctx, r, s.cfg.Texts.Requeued), zapConv(r.Conversation))
	}
	timer := TimerPayload{Conversation: r.Conversation, Handoff: r.ID, Seq: r.Seq}
	t, err := NewQueueTimeoutTask(timer, s.dueIn(s.cfg.QueueTimeout), asynq.TaskID(timerID("timeout", timer)))
	s.logErr("scheduling the queue timeout failed", s.enqueue(ctx, t, err), zapConv(r.Conversation))
	s.triggerAssign(ctx, q.ID)
	return nil
}

// abandon takes a waiting customer out of the queue at their request.
func (s *Service) abandon(ctx context.Context, r *Record) error {
	old, _, err := s.finish(ctx, r.Conversation, r.ID, []Status{StatusQueued}, StatusAbandoned)
	if err != nil {
		return err
	}
	if _, err := s.clearOwner(ctx, r.Conversation, old.owner()); err != nil {
		return err
	}
	s.log.Info("customer left the queue", zapConv(r.Conversation), zapQueue(old.Queue))
	s.updatePositions(ctx, old.Queue)
	return s.tell(ctx, old, s.cfg.Texts.LeftQueue)
}

// queueTimeout ends a wait nobody answered: the customer is told and
// offered to leave a message, or is back with the bot.
func (s *Service) queueTimeout(ctx context.Context, p TimerPayload) error {
	r, err := s.readRecord(ctx, p.Conversation)
	if err != nil {
		return err
	}
	if r == nil || r.ID != p.Handoff || r.Status != StatusQueued || r.Seq != p.Seq {
		return nil
	}
	to := StatusExpired
	if s.cfg.LeaveMessage.Enabled {
		to = StatusMessage
	}
	old, _, err := s.finish(ctx, r.Conversation, r.ID, []Status{StatusQueued}, to, fWhy, "expired")
	if errors.Is(err, errGone) {
		return nil
	}
	if err != nil {
		return err
	}
	s.log.Info("nobody took the conversation in time", zapConv(r.Conversation), zapQueue(old.Queue))
	s.updatePositions(ctx, old.Queue)
	if to == StatusMessage {
		s.m.ended.WithLabelValues(string(StatusExpired)).Inc()
		return s.startMessageStep(ctx, old, s.cfg.Texts.Expired)
	}
	if _, err := s.clearOwner(ctx, r.Conversation, old.owner()); err != nil {
		return err
	}
	return s.tell(ctx, old, s.cfg.Texts.Expired)
}

// messageTimeout returns a customer who left no message to the bot.
func (s *Service) messageTimeout(ctx context.Context, p TimerPayload) error {
	r, err := s.readRecord(ctx, p.Conversation)
	if err != nil {
		return err
	}
	if r == nil || r.ID != p.Handoff || r.Status != StatusMessage {
		return nil
	}
	if _, _, err := s.finish(ctx, r.Conversation, r.ID, []Status{StatusMessage}, StatusClosed); err != nil {
		if errors.Is(err, errGone) {
			return nil
		}
		return err
	}
	_, err = s.clearOwner(ctx, r.Conversation, r.owner())
	return err
}

// idle reminds the agent of a quiet conversation, and ends it when it
// stays quiet: resolved when the customer went quiet, back to the queue
// when the customer is the one waiting. It schedules its next run.
func (s *Service) idle(ctx context.Context, p TimerPayload) error {
	r, err := s.readRecord(ctx, p.Conversation)
	if err != nil {
		return err
	}
	if r == nil || r.ID != p.Handoff || r.Status != StatusAssigned || r.Seq != p.Seq {
		return nil
	}
	a := s.agents[r.Agent]
	if a == nil {
		return nil
	}
	now := s.clock.Now()
	last := r.lastActivity()
	quiet := now.Sub(last)
	waiting := r.customerWaiting()
	name := customerName(r)
	switch {
	case quiet >= s.cfg.IdleResolve && waiting:
		if err := s.requeue(ctx, r, r.Queue, true); err != nil {
			return ignoreGone(err)
		}
		s.notifyAgent(ctx, a, fmt.Sprintf("客户 %s 等待您的回复已超过 %s，会话已转回队列由其他客服接待。", name, minutes(quiet)))
		return nil
	case quiet >= s.cfg.IdleResolve:
		if _, err := s.release(ctx, r, StatusResolved, true); err != nil {
			return ignoreGone(err)
		}
		s.notifyAgent(ctx, a, fmt.Sprintf("与客户 %s 的会话已 %s 没有消息，已自动结束。", name, minutes(quiet)))
		return nil
	case quiet >= s.cfg.IdleReminder && r.Reminded.Before(last.Add(s.cfg.IdleReminder)):
		online, err := s.isOnline(ctx, a)
		if err != nil {
			return err
		}
		if waiting && !online {
			// The agent is gone (presence expired or /offline): don't let
			// the customer wait for the full idle_resolve.
			if err := s.requeue(ctx, r, r.Queue, true); err != nil {
				return ignoreGone(err)
			}
			s.notifyAgent(ctx, a, fmt.Sprintf("您已离线，客户 %s 已转回队列由其他客服接待。", name))
			return nil
		}
		text := fmt.Sprintf("与客户 %s 的会话已 %s 没有消息，客户暂未回复；%s 后将自动结束（/end 立即结束）。", name, minutes(quiet), minutes(s.cfg.IdleResolve-quiet))
		if waiting {
			text = fmt.Sprintf("客户 %s 正在等待您的回复（%s）。%s", name, minutes(quiet), switchHint(ctx, s, a, r.Conversation))
		}
		s.notifyAgent(ctx, a, strings.TrimSpace(text))
		if err := s.rdb.HSet(ctx, s.keys.record(r.Conversation), fReminded, ms(now)).Err(); err != nil {
			return fmt.Errorf("marking the reminder: %w", err)
		}
		return s.scheduleIdle(ctx, p, last.Add(s.cfg.IdleResolve))
	case quiet >= s.cfg.IdleReminder:
		return s.scheduleIdle(ctx, p, last.Add(s.cfg.IdleResolve))
	default:
		return s.scheduleIdle(ctx, p, last.Add(s.cfg.IdleReminder))
	}
}

// scheduleIdle runs the idle check for p again at at. asynq compares due
// times in whole seconds, so a task can start up to a second early; the
// time is rounded up to the next second so the check is never early (an
// early check would reschedule itself under its own, still running, id
// and be lost).
func (s *Service) scheduleIdle(ctx context.Context, p TimerPayload, at time.Time) error {
	at = ceilSecond(at)
	t, err := NewIdleTask(p, asynq.ProcessIn(s.after(at)), asynq.TaskID(timerID("idle", p, strconv.FormatInt(at.Unix(), 10))))
	return s.enqueue(ctx, t, err)
}

// isOnline reports whether the agent's presence is current.
func (s *Service) isOnline(ctx context.Context, a *AgentConfig) (bool, error) {
	on, err := s.online(ctx, []*AgentConfig{a})
	if err != nil {
		return false, err
	}
	return on[0], nil
}

// online reports, for each agent, whether their presence is current and
// they have not gone /offline, in one round trip.
func (s *Service) online(ctx context.Context, agents []*AgentConfig) ([]bool, error) {
	pipe := s.rdb.Pipeline()
	pres := make([]*redis.FloatCmd, len(agents))
	off := make([]*redis.StringCmd, len(agents))
	for i, a := range agents {
		pres[i] = pipe.ZScore(ctx, s.keys.presence(), a.ID)
		off[i] = pipe.HGet(ctx, s.keys.agent(a.ID), "off")
	}
	if _, err := pipe.Exec(ctx); err != nil && !isNil(err) {
		return nil, fmt.Errorf("reading agent presence: %w", err)
	}
	now := ms(s.clock.Now())
	out := make([]bool, len(agents))
	for i := range agents {
		out[i] = off[i].Val() != "1" && int64(pres[i].Val()) > now
	}
	return out, nil
}

func ignoreGone(err error) error {
	if errors.Is(err, errGone) {
		return nil
	}
	return err
}
