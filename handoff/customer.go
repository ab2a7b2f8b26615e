package handoff

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/kefu-gateway/kefu/adapters/message"
	"github.com/kefu-gateway/kefu/router"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// HandleOwned receives the customer's messages while the handoff owns the
// conversation (the router recorded them and the bot stayed silent). A
// waiting customer hears their position or leaves the queue; a served
// customer's message goes to the agent; a message offered to the agents
// is kept for them.
func (s *Service) HandleOwned(ctx context.Context, conv router.Conversation, msg message.Message) error {
	r, err := s.readRecord(ctx, conv.ID)
	if err != nil {
		return err
	}
	if r == nil || !r.Status.Active() {
		return s.repairOwner(ctx, conv, msg)
	}
	now := s.clock.Now()
	switch r.Status {
	case StatusQueued:
		if s.isLeaveCommand(msg) {
			return ignoreGone(s.abandon(ctx, r))
		}
		if err := s.touchCustomer(ctx, r.Conversation, now); err != nil {
			return err
		}
		if msg.Kind == message.KindEvent || now.Sub(r.PositionAt) < s.cfg.PositionInterval {
			return nil
		}
		pos, err := s.rdb.ZRank(ctx, s.keys.queue(r.Queue), r.Conversation).Result()
		if errors.Is(err, redis.Nil) {
			return nil // assigned this very moment
		}
		if err != nil {
			return fmt.Errorf("reading queue position: %w", err)
		}
		return s.tellPosition(ctx, r, int(pos)+1, s.cfg.Texts.Position)
	case StatusAssigned:
		if msg.Kind == message.KindEvent {
			return nil
		}
		if err := s.touchCustomer(ctx, r.Conversation, now); err != nil {
			return err
		}
		a := s.agents[r.Agent]
		if a == nil {
			return nil
		}
		text := fmt.Sprintf("【%s】%s", customerName(r), relayText(msg))
		if hint := switchHint(ctx, s, a, r.Conversation); hint != "" {
			text += "\n" + hint
		}
		return s.sendAgent(ctx, a, text, "")
	case StatusMessage:
		if msg.Kind == message.KindEvent {
			return nil
		}
		return s.leaveMessage(ctx, r, msg)
	case StatusServicer:
		if msg.Kind == message.KindEvent && msg.Event != nil && msg.Event.Type == EventKFSessionEnded {
			return s.ServicerSessionEnded(ctx, r.Conversation)
		}
		if msg.Kind == message.KindEvent || s.servicerServing(ctx, r, msg) {
			return nil
		}
		// The reception let go: the bot takes the customer back. This
		// message arrived while the owner was set, so ask for it again.
		if err := s.ServicerSessionEnded(ctx, r.Conversation); err != nil {
			return err
		}
		return s.tell(ctx, r, s.cfg.Texts.Stale)
	}
	return nil
}

// servicerServing reports whether WeCom's reception still serves r: asked
// of the adapter when it can tell, else assumed for kf_servicer_timeout.
func (s *Service) servicerServing(ctx context.Context, r *Record, msg message.Message) bool {
	ad, ok := s.adapters.Lookup(r.Channel, r.Account)
	if checker, can := ad.(ServicerSessionChecker); ok && can {
		serving, err := checker.ServicerServing(ctx, r.Customer, openKfID(msg.Meta, r.Conversation))
		if err == nil {
			return serving
		}
		s.logErr("asking the 微信客服 session state failed; keeping the bot silent", err, zapConv(r.Conversation))
		return true
	}
	return s.clock.Now().Sub(r.Requested) < s.cfg.KFServicerTimeout
}

// ServicerSessionEnded returns a 微信客服 conversation that WeCom's own
// reception served to the bot. The 微信客服 adapter calls it (or gives
// the router an EventKFSessionEnded event) when the session ends.
func (s *Service) ServicerSessionEnded(ctx context.Context, conv string) error {
	r, err := s.readRecord(ctx, conv)
	if err != nil {
		return err
	}
	if r == nil || r.Status != StatusServicer {
		return nil
	}
	if _, _, err := s.finish(ctx, conv, r.ID, []Status{StatusServicer}, StatusResolved); err != nil {
		return ignoreGone(err)
	}
	_, err = s.clearOwner(ctx, conv, "")
	return err
}

// leaveMessage keeps the customer's message for the agents (or, on a
// leave command, just returns them to the bot).
func (s *Service) leaveMessage(ctx context.Context, r *Record, msg message.Message) error {
	cancelled := s.isLeaveCommand(msg)
	if !cancelled {
		err := s.rdb.XAdd(ctx, &redis.XAddArgs{
			Stream: s.keys.messages(), MaxLen: 10000, Approx: true,
			Values: []any{"conversation", r.Conversation, "queue", r.Queue, "channel", r.Channel, "account", r.Account,
				"customer", r.Customer.ID, "name", r.Customer.Name, "text", describe(msg), "why", r.Why,
				"ts", ms(s.clock.Now())},
		}).Err()
		if err != nil {
			return fmt.Errorf("keeping the customer's message: %w", err)
		}
	}
	if _, _, err := s.finish(ctx, r.Conversation, r.ID, []Status{StatusMessage}, StatusClosed); err != nil {
		return ignoreGone(err)
	}
	if s.afterLeft != nil {
		s.afterLeft(r.Conversation)
	}
	// An agent may have taken the customer meanwhile (/callback); the
	// agent told them so, and they must not hear that the bot goes on.
	taken, err := s.clearOwner(ctx, r.Conversation, r.owner())
	if err != nil {
		return err
	}
	if cancelled {
		if taken {
			return nil
		}
		return s.tell(ctx, r, s.cfg.Texts.LeftQueue)
	}
	s.log.Info("customer left a message for the agents", zapConv(r.Conversation), zapQueue(r.Queue))
	if !taken {
		err = s.tell(ctx, r, s.cfg.Texts.MessageLeft)
	}
	s.noticeLeftOnline(ctx, r.Queue)
	return err
}

// repairOwner handles a conversation whose owner is set with no handoff
// under way (a process died between ending a handoff and clearing the
// owner): the bot gets it back and the customer is asked to write again,
// instead of being trapped with nobody answering.
func (s *Service) repairOwner(ctx context.Context, conv router.Conversation, msg message.Message) error {
	if !isHandoffOwner(conv.Owner) {
		return nil
	}
	cleared, _, err := s.clearEndedOwner(ctx, conv.ID)
	if err != nil || !cleared {
		return err
	}
	s.log.Warn("repaired a conversation owned by a handoff that had ended", zapConv(conv.ID), zap.String("owner", conv.Owner))
	r := &Record{Conversation: conv.ID, Channel: conv.Channel, Account: conv.Account, Customer: conv.Customer}
	if r.Channel == "" {
		r.Channel, r.Account, r.Customer = msg.Channel, msg.Account, msg.From
	}
	return s.tell(ctx, r, s.cfg.Texts.Stale)
}

func (s *Service) touchCustomer(ctx context.Context, conv string, now time.Time) error {
	return s.rdb.HSet(ctx, s.keys.record(conv), fCustomerLast, ms(now)).Err()
}

// isLeaveCommand reports whether msg asks to leave the queue.
func (s *Service) isLeaveCommand(msg message.Message) bool {
	return msg.Kind == message.KindText && s.leaveWords[normalizeWord(msg.Text)]
}

// customerName is how agents see the customer.
func customerName(r *Record) string {
	if r.Customer.Name != "" {
		return r.Customer.Name
	}
	id := []rune(r.Customer.ID)
	if len(id) > 6 {
		id = id[len(id)-6:]
	}
	return "客户" + string(id)
}

// describe renders a customer's message as text for the agent.
func describe(m message.Message) string {
	label := map[message.Kind]string{
		message.KindImage: "图片", message.KindVoice: "语音", message.KindVideo: "视频", message.KindFile: "文件",
		message.KindLocation: "位置", message.KindLink: "链接", message.KindCard: "卡片",
		message.KindMiniProgram: "小程序", message.KindEvent: "事件", message.KindUnsupported: "暂不支持的消息",
	}[m.Kind]
	if label == "" {
		return m.Text
	}
	out := "[" + label + "]"
	if m.Text != "" {
		out += " " + m.Text
	}
	for _, at := range m.Attachments {
		switch {
		case at.Title != "" && at.URL != "":
			out += " " + at.Title + " " + at.URL
		case at.Label != "":
			out += " " + at.Label
		case at.URL != "":
			out += " " + at.URL
		}
	}
	return out
}

// relayText renders a customer's message for the agent; media the agent
// cannot open from here come with a hint.
func relayText(m message.Message) string {
	out := describe(m)
	switch m.Kind {
	case message.KindText, message.KindVoice, message.KindLink, message.KindLocation:
	default:
		out += "（客服端无法查看，请让客户用文字描述）"
	}
	return out
}

// switchHint tells the agent how to answer a conversation that is not
// their current one ("" when it is).
func switchHint(ctx context.Context, s *Service, a *AgentConfig, conv string) string {
	pipe := s.rdb.Pipeline()
	cur := pipe.HGet(ctx, s.keys.agent(a.ID), "cur")
	rank := pipe.ZRank(ctx, s.keys.agentConvs(a.ID), conv)
	if _, err := pipe.Exec(ctx); err != nil && !isNil(err) {
		return ""
	}
	if cur.Val() == conv || rank.Err() != nil {
		return ""
	}
	return fmt.Sprintf("（发送 /switch %d 切换到该客户后回复）", rank.Val()+1)
}

func isNil(err error) bool { return errors.Is(err, redis.Nil) }

// minutes renders a duration for people.
func minutes(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d 秒", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%d 分钟", int(d.Minutes()))
	default:
		return fmt.Sprintf("%d 小时 %d 分钟", int(d.Hours()), int(d.Minutes())%60)
	}
}
