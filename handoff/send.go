package handoff

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"

	"github.com/hibiken/asynq"
	"github.com/kefu-gateway/kefu/adapters/message"
	"github.com/kefu-gateway/kefu/workers"
	"go.uber.org/zap"
)

// noticeRetention keeps a sent notice's task id reserved, so a worker that
// finishes an assignment again (after a crash) does not notify twice.
const noticeRetention = 24 * time.Hour

// agentConversation is the conversation id used for messages to an agent
// (it names the agent in the outbound task and undeliverable records).
func agentConversation(a *AgentConfig) string { return "handoff-agent:" + a.ID }

// sendAgent sends text to an agent through their WeCom app, split at the
// channel's limit (WeCom cuts app messages at 2048 bytes, PROTOCOLS.md
// §3.2). With a taskID the send happens once however often it is asked for.
func (s *Service) sendAgent(ctx context.Context, a *AgentConfig, text, taskID string) error {
	ad, ok := s.adapters.Lookup(s.cfg.AgentChannel, a.WecomApp)
	if !ok {
		return fmt.Errorf("sending to agent %s: no %s account %q", a.ID, s.cfg.AgentChannel, a.WecomApp)
	}
	id := taskID
	if id == "" {
		id = newID()
	}
	var msgs []message.Message
	for i, part := range message.SplitText(text, ad.Capabilities().MaxTextBytes) {
		msgs = append(msgs, message.Message{
			ID: id + "." + strconv.Itoa(i+1), Channel: s.cfg.AgentChannel, Account: a.WecomApp,
			ConversationID: agentConversation(a),
			From:           message.Party{Role: message.RoleSystem},
			To:             message.Party{ID: a.WecomUser, Name: a.Name, Role: message.RoleAgent},
			Kind:           message.KindText, Text: part, Timestamp: s.clock.Now(),
		})
	}
	if len(msgs) == 0 {
		return nil
	}
	p := workers.OutboundSendPayload{Channel: s.cfg.AgentChannel, Account: a.WecomApp, ConversationID: agentConversation(a), Messages: msgs}
	if taskID != "" {
		// A notice may be asked for twice (recovery) and is then not
		// enqueued again: it takes no place in the agent's order, or the
		// next message would wait for a task that never comes.
		t, err := workers.NewOutboundSendTask(p, asynq.TaskID(taskID), asynq.Retention(noticeRetention))
		if err := s.enqueue(ctx, t, err); err != nil {
			return fmt.Errorf("sending to agent %s: %w", a.ID, err)
		}
		return nil
	}
	// Messages to one agent go out in order (a customer's lines relayed
	// one after another), as the router orders a customer's.
	if err := workers.EnqueueInOrder(ctx, s.rdb, s.keys.Keys, s.tasks, p); err != nil {
		return fmt.Errorf("sending to agent %s: %w", a.ID, err)
	}
	return nil
}

// notifyAgent sends text to an agent, logging a failure.
func (s *Service) notifyAgent(ctx context.Context, a *AgentConfig, text string) {
	s.logErr("messaging agent failed", s.sendAgent(ctx, a, text, ""), zap.String("agent", a.ID))
}

// newID returns a random id, time-ordered by its prefix.
func newID() string {
	var b [5]byte
	_, _ = rand.Read(b[:])
	return strconv.FormatInt(time.Now().UnixMilli(), 36) + hex.EncodeToString(b[:])
}

func zapQueue(q string) zap.Field { return zap.String("queue", q) }
func zapConv(c string) zap.Field  { return zap.String("conversation", c) }
