// Package workers holds kefu's background tasks: their type names, payloads,
// constructors and handlers, and the asynq server that runs them inside
// `kefu serve` or `kefu worker`.
package workers

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
	"github.com/kefu-gateway/kefu/adapters/message"
)

// Queues, by priority.
const (
	// QueueCritical carries replies customers are waiting for.
	QueueCritical = "critical"
	// QueueDefault carries handoff and follow-up work.
	QueueDefault = "default"
	// QueueLow carries campaigns.
	QueueLow = "low"
)

// Task types.
const (
	// TypeOutboundSend delivers replies through a channel's active API.
	TypeOutboundSend = "outbound:send"
)

// OutboundSendPayload is the payload of an outbound:send task: the parts of
// one turn's replies, sent in order.
type OutboundSendPayload struct {
	Channel        string            `json:"channel"`
	Account        string            `json:"account"`
	ConversationID string            `json:"conversation_id"`
	Messages       []message.Message `json:"messages"`
	// Seq orders the conversation's outbound tasks: a task waits (up to
	// Outbound.OrderWait) until the one before it has finished, so replies
	// of consecutive turns reach the customer in order. 0 = unordered.
	Seq int64 `json:"seq,omitempty"`
}

// NewOutboundSendTask returns a task delivering p's messages in order.
func NewOutboundSendTask(p OutboundSendPayload, opts ...asynq.Option) (*asynq.Task, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("encoding outbound task: %w", err)
	}
	base := []asynq.Option{asynq.Queue(QueueCritical), asynq.MaxRetry(8), asynq.Timeout(2 * time.Minute)}
	return asynq.NewTask(TypeOutboundSend, b, append(base, opts...)...), nil
}

// TypeFlowTimer wakes a conversation's flow when a timer it set is due
// (an ask step's reminder or inactivity timeout).
const TypeFlowTimer = "flow:timer"

// FlowTimerPayload names the conversation and the timer's token; a token
// the flow no longer waits on is ignored.
type FlowTimerPayload struct {
	ConversationID string `json:"conversation_id"`
	Token          string `json:"token"`
}

// FlowTimerTaskID is the asynq task id of a conversation's flow timer, so
// a timer can be replaced or cancelled.
func FlowTimerTaskID(conv, token string) string { return "flowtimer:" + conv + ":" + token }

// NewFlowTimerTask returns a task firing the timer at at.
func NewFlowTimerTask(p FlowTimerPayload, at time.Time) (*asynq.Task, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("encoding flow timer task: %w", err)
	}
	return asynq.NewTask(TypeFlowTimer, b, asynq.Queue(QueueDefault), asynq.ProcessAt(at),
		asynq.TaskID(FlowTimerTaskID(p.ConversationID, p.Token)), asynq.MaxRetry(5), asynq.Retention(time.Hour)), nil
}
