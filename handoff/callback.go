package handoff

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/kefu-gateway/kefu/adapters/message"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// A customer who left a message was told "客服会尽快联系您"; /callback N
// (回访 N) is how an agent does: the customer of left message number N (as
// the agent's notices and /messages number them, see numberShown) becomes
// one of their conversations, the customer is told which agent answers
// their message, and the agent gets the usual notice with the conversation
// so far. It works outside business hours: the agent chose to answer.

// ReasonCallBack is the reason of a handoff an agent started with /callback.
const ReasonCallBack = "回访留言"

// callBackMemory is how long "回访 N" can refer to a list an agent was
// shown, and how long a left message shows who called the customer back.
const callBackMemory = 7 * 24 * time.Hour

// numberShown numbers the left messages an agent is about to be shown and
// remembers them, so /callback N finds the N-th. A notice continues the
// agent's numbers (fresh ones for its messages), so a notice that arrives
// while the agent reads an earlier list — or that their own /callback
// message brings, when it brings them online — changes no number they
// saw; /messages (fresh) starts again from 1. It returns the first number,
// or 0 when the numbers could not be kept (the list is then shown without
// them). Only the first leftNoticeMax messages are shown and numbered.
func (s *Service) numberShown(ctx context.Context, a *AgentConfig, ms []LeftMessage, fresh bool) int {
	if len(ms) > leftNoticeMax {
		ms = ms[:leftNoticeMax]
	}
	mode := "append"
	if fresh {
		mode = "fresh"
	}
	args := []any{mode, callBackMemory.Milliseconds(), leftShownKeep}
	for _, m := range ms {
		args = append(args, m.ID)
	}
	first, err := numberShownScript.Run(ctx, s.rdb, []string{s.keys.leftShown(a.ID)}, args...).Int()
	if err != nil {
		s.logErr("numbering the left messages shown failed", err, zap.String("agent", a.ID))
		return 0
	}
	return first
}

// leftShownKeep is how many of an agent's latest numbers /callback can use.
const leftShownKeep = 200

// numberShownScript gives the left message ids ARGV[4..] the next numbers
// of an agent (from 1 after "fresh") and forgets numbers older than the
// latest ARGV[3].
//
//	KEYS: 1 the agent's numbers (hash: "n" = the last number, "<number>" = id)
//	ARGV: 1 "fresh" | "append", 2 TTL ms, 3 numbers kept, 4.. ids
//
// Returns the first number given.
var numberShownScript = redis.NewScript(`
if ARGV[1] == 'fresh' then redis.call('DEL', KEYS[1]) end
local k, keep = #ARGV - 3, tonumber(ARGV[3])
local last = redis.call('HINCRBY', KEYS[1], 'n', k)
for i = 1, k do
  redis.call('HSET', KEYS[1], tostring(last - k + i), ARGV[3 + i])
  if last - k + i - keep > 0 then redis.call('HDEL', KEYS[1], tostring(last - k + i - keep)) end
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return last - k + 1
`)

// shownLeft returns the left message the agent was shown as number n;
// ok is false when there is none.
func (s *Service) shownLeft(ctx context.Context, a *AgentConfig, n int) (LeftMessage, bool, error) {
	id, err := s.rdb.HGet(ctx, s.keys.leftShown(a.ID), strconv.Itoa(n)).Result()
	if errors.Is(err, redis.Nil) {
		return LeftMessage{}, false, nil
	}
	if err != nil {
		return LeftMessage{}, false, fmt.Errorf("reading the left messages shown: %w", err)
	}
	xs, err := s.rdb.XRange(ctx, s.keys.messages(), id, id).Result()
	if err != nil {
		return LeftMessage{}, false, fmt.Errorf("reading a left message: %w", err)
	}
	if len(xs) == 0 {
		return LeftMessage{}, false, nil // trimmed from the stream since
	}
	return leftMessage(xs[0].ID, xs[0].Values), true, nil
}

// markCalledBack fills in who called back the customers of ms, if anyone.
func (s *Service) markCalledBack(ctx context.Context, ms []LeftMessage) error {
	if len(ms) == 0 {
		return nil
	}
	keys := make([]string, len(ms))
	for i, m := range ms {
		keys[i] = s.keys.calledBack(m.ID)
	}
	vals, err := s.rdb.MGet(ctx, keys...).Result()
	if err != nil {
		return fmt.Errorf("reading who called back: %w", err)
	}
	for i, v := range vals {
		ms[i].CalledBackBy, _ = v.(string)
	}
	return nil
}

// callBack answers /callback n.
func (s *Service) callBack(ctx context.Context, a *AgentConfig, n int) (string, error) {
	m, ok, err := s.shownLeft(ctx, a, n)
	if err != nil {
		return "", err
	}
	if !ok {
		return fmt.Sprintf("没有第 %d 条留言。发送 /messages 查看最近的客户留言。", n), nil
	}
	q := s.queues[m.Queue]
	if q == nil || !serves(*a, *q) {
		return "这条留言不属于您所在的队列。", nil
	}
	r := &Record{
		ID: newID(), Conversation: m.Conversation, Channel: m.Channel, Account: m.Account,
		Customer: message.Party{ID: m.CustomerID, Name: m.CustomerName, Role: message.RoleCustomer},
		Queue:    q.ID, Reason: ReasonCallBack,
	}
	name := customerName(r)
	if cur, err := s.readRecord(ctx, m.Conversation); err != nil {
		return "", err
	} else if cur != nil && cur.Status.Active() {
		return s.callBackActive(ctx, a, cur)
	}
	if why := s.windowClosed(ctx, r); why != "" {
		return fmt.Sprintf("无法联系客户 %s：消息窗口已关闭（%s）。等客户再次发消息后才能联系。", name, why), nil
	}
	// A call back is not /online: an agent who went /offline answers this
	// customer without getting queued ones (their message already beat).
	// Whether they are full, callBackScript says.
	now := s.clock.Now()
	keys := []string{s.keys.record(r.Conversation), s.keys.agent(a.ID), s.keys.agentConvs(a.ID), s.keys.claims(), s.keys.assignSeq()}
	args := append([]any{r.Conversation, ms(now), ms(now.Add(s.cfg.ClaimLease)), r.ID, a.ID, a.MaxConcurrent}, recordFields(r)...)
	if err := s.armRecovery(ctx, now.Add(s.cfg.ClaimLease)); err != nil {
		return "", err
	}
	res, err := callBackScript.Run(ctx, s.rdb, keys, args...).Text()
	if err != nil {
		return "", fmt.Errorf("starting a call back: %w", err)
	}
	switch res {
	case "active": // the customer asked for a human meanwhile
		cur, err := s.readRecord(ctx, m.Conversation)
		if err != nil || cur == nil {
			return "", err
		}
		return s.callBackActive(ctx, a, cur)
	case "full":
		return fullText(a.MaxConcurrent, a.MaxConcurrent), nil
	}
	if err := s.rdb.Set(ctx, s.keys.calledBack(m.ID), a.ID, callBackMemory).Err(); err != nil {
		s.logErr("marking the left message called back failed", err, zapConv(r.Conversation))
	}
	s.m.requests.WithLabelValues(q.ID, "call_back").Inc()
	s.log.Info("agent calls back a customer who left a message", zap.String("agent", a.ID), zapConv(r.Conversation), zapQueue(q.ID))
	if err := s.complete(ctx, r.Conversation); err != nil {
		return "", err
	}
	return "", nil // the notice says it all
}

// callBackActive answers /callback for a customer whose handoff is under way.
func (s *Service) callBackActive(ctx context.Context, a *AgentConfig, r *Record) (string, error) {
	name := customerName(r)
	switch r.Status {
	case StatusAssigned:
		if r.Agent == a.ID {
			if err := s.setCurrent(ctx, a, r.Conversation); err != nil {
				return "", err
			}
			return fmt.Sprintf("您正在接待客户 %s，已切换到该会话，直接发送文字即回复该客户。", name), nil
		}
		other := r.Agent
		if o := s.agents[r.Agent]; o != nil {
			other = o.Name
		}
		return fmt.Sprintf("客户 %s 正由客服 %s 接待。", name, other), nil
	case StatusQueued:
		q := s.queues[r.Queue]
		if q == nil || !serves(*a, *q) {
			return fmt.Sprintf("客户 %s 正在其他队列排队。", name), nil
		}
		// Taking a waiting customer is /accept, which puts the agent
		// online; a refused one leaves their presence as it was.
		if _, err := s.heartbeat(ctx, a, online); err != nil {
			return "", err
		}
		if full, text, err := s.atCapacity(ctx, a); err != nil || full {
			return text, err
		}
		if err := s.armRecovery(ctx, s.clock.Now().Add(s.cfg.ClaimLease)); err != nil {
			return "", err
		}
		took, err := s.takeWaiting(ctx, a, q.ID, r.Conversation)
		if err != nil || took {
			return "", err
		}
		return fmt.Sprintf("客户 %s 已被其他客服接入。", name), nil
	case StatusMessage:
		return fmt.Sprintf("客户 %s 正在留言，请稍后再回访。", name), nil
	}
	return fmt.Sprintf("客户 %s 正由企业微信客服接待。", name), nil
}

// atCapacity reports whether the agent already serves as many customers
// as they may, with the text that says so.
func (s *Service) atCapacity(ctx context.Context, a *AgentConfig) (bool, string, error) {
	n, err := s.rdb.ZCard(ctx, s.keys.agentConvs(a.ID)).Result()
	if err != nil {
		return false, "", fmt.Errorf("counting the agent's conversations: %w", err)
	}
	if int(n) >= a.MaxConcurrent {
		return true, fullText(int(n), a.MaxConcurrent), nil
	}
	return false, "", nil
}

func fullText(load, max int) string {
	return fmt.Sprintf("您的接待数已满（%d/%d），请先结束一个会话。", load, max)
}
