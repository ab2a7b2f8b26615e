package handoff

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/kefu-gateway/kefu/adapters/message"
)

// Status is where a conversation is in the handoff.
//
//	bot ─Request─▶ queued ─claim─▶ assigned ─/end─▶ resolved ─(CSAT)─▶ bot
//	                 │  │             │ /bot ▶ returned ▶ bot
//	                 │  │             │ quiet customer ▶ resolved (auto) ▶ bot
//	                 │  │             └ /transfer ▶ assigned (other agent) or queued
//	                 │  ├ queue_timeout ▶ expired ▶ message? ▶ bot
//	                 │  └ leave command ▶ abandoned ▶ bot
//	Request out of hours / no agents ▶ message ▶ (message left or timeout) ▶ bot
//	Request on a kf_servicer account ▶ servicer ▶ (kf session ends) ▶ bot
//
// While the status is active (queued, assigned, message, servicer) the
// conversation's owner (field o of its state hash) is set, so the bot never
// speaks.
type Status string

// Statuses.
const (
	StatusQueued    Status = "queued"
	StatusAssigned  Status = "assigned"
	StatusMessage   Status = "message"  // waiting for the customer to leave a message
	StatusServicer  Status = "servicer" // WeCom's own 微信客服 reception serves it
	StatusResolved  Status = "resolved"
	StatusReturned  Status = "returned" // an agent gave the customer back to the bot
	StatusExpired   Status = "expired"
	StatusAbandoned Status = "abandoned"
	StatusClosed    Status = "closed" // the leave-message window ended, or a stale owner was repaired
)

// callBack reports whether the record's current assignment is the one an
// agent's /callback started (not a later one after a requeue or transfer).
func (r *Record) callBack() bool { return r.Reason == ReasonCallBack && r.Seq == 1 && r.From == "" }

// fromQueue reports whether the current assignment took the customer from
// a queue they waited in (not a transfer, not a call back): what the
// notice's wait and the assignment metrics count.
func (r *Record) fromQueue() bool { return r.From == "" && !r.callBack() }

// owner is the conversation owner a handoff in status s sets ("" when
// the record does not say: a 微信客服 servicer's, or not active).
func (r *Record) owner() string {
	switch r.Status {
	case StatusQueued:
		return OwnerQueuePrefix + r.Queue
	case StatusAssigned:
		return OwnerAgentPrefix + r.Agent
	case StatusMessage:
		return OwnerMessagePrefix + r.Queue
	}
	return ""
}

// Active reports whether a human (or the leave-message step) owns the conversation.
func (s Status) Active() bool {
	switch s {
	case StatusQueued, StatusAssigned, StatusMessage, StatusServicer:
		return true
	}
	return false
}

// Owner values written to the conversation's o field. The router only
// checks that o is non-empty; the prefixes say who holds it.
const (
	// OwnerQueuePrefix + queue id: waiting in a queue.
	OwnerQueuePrefix = "queue:"
	// OwnerAgentPrefix + agent id: an agent serves the customer.
	OwnerAgentPrefix = "agent:"
	// OwnerMessagePrefix + queue id: the customer's next message is kept for the agents.
	OwnerMessagePrefix = "message:"
	// OwnerKFPrefix + servicer userid (or "pool"): WeCom's 微信客服 reception
	// serves the customer; see ServicerTransferrer.
	OwnerKFPrefix = "kf:"
)

var ownerPrefixes = []string{OwnerQueuePrefix, OwnerAgentPrefix, OwnerMessagePrefix, OwnerKFPrefix}

// Record is one conversation's handoff, as kept in Redis.
type Record struct {
	Conversation string            `json:"conversation"`
	ID           string            `json:"id"`
	Status       Status            `json:"status"`
	Queue        string            `json:"queue"`
	Reason       string            `json:"reason,omitempty"`
	Agent        string            `json:"agent,omitempty"`
	Seq          int               `json:"seq"`
	Channel      string            `json:"channel"`
	Account      string            `json:"account"`
	Customer     message.Party     `json:"customer"`
	Meta         map[string]string `json:"meta,omitempty"`
	Requested    time.Time         `json:"requested"`
	Assigned     time.Time         `json:"assigned,omitzero"`
	CustomerLast time.Time         `json:"customer_last,omitzero"`
	AgentLast    time.Time         `json:"agent_last,omitzero"`
	Ended        time.Time         `json:"ended,omitzero"`
	// Why says what led to the leave-message step (out_of_hours, no_agents, expired).
	Why string `json:"why,omitempty"`
	// Position is the queue position the customer was last told, and PositionAt when.
	Position   int       `json:"-"`
	PositionAt time.Time `json:"-"`
	// Reminded is when the agent was last reminded of a quiet conversation.
	Reminded time.Time `json:"-"`
	// Greeted is the assignment (Seq) the customer was told about.
	Greeted int `json:"-"`
	// From is the agent who transferred the conversation to Agent.
	From string `json:"transferred_from,omitempty"`
}

// Record hash fields.
const (
	fID, fStatus, fQueue, fReason, fAgent, fSeq          = "hid", "status", "queue", "reason", "agent", "seq"
	fChannel, fAccount, fCustomer, fName, fUnion, fMeta  = "ch", "acct", "cust", "name", "union", "meta"
	fRequested, fAssigned, fCustomerLast, fAgentLast     = "req", "asg", "cl", "al"
	fEnded, fWhy, fPosition, fPositionAt, fReminded, fGr = "end", "why", "pos", "posat", "rem", "greet"
	fFrom                                                = "from"
)

func parseRecord(conv string, h map[string]string) *Record {
	if len(h) == 0 || h[fID] == "" {
		return nil
	}
	r := &Record{
		Conversation: conv, ID: h[fID], Status: Status(h[fStatus]), Queue: h[fQueue], Reason: h[fReason],
		Agent: h[fAgent], Seq: atoi(h[fSeq]), Channel: h[fChannel], Account: h[fAccount],
		Customer:  message.Party{ID: h[fCustomer], Name: h[fName], UnionID: h[fUnion], Role: message.RoleCustomer},
		Requested: msTime(h[fRequested]), Assigned: msTime(h[fAssigned]),
		CustomerLast: msTime(h[fCustomerLast]), AgentLast: msTime(h[fAgentLast]), Ended: msTime(h[fEnded]),
		Why: h[fWhy], Position: atoi(h[fPosition]), PositionAt: msTime(h[fPositionAt]),
		Reminded: msTime(h[fReminded]), Greeted: atoi(h[fGr]), From: h[fFrom],
	}
	if m := h[fMeta]; m != "" {
		_ = json.Unmarshal([]byte(m), &r.Meta)
	}
	return r
}

// lastActivity is when anyone last wrote in the assigned conversation.
func (r *Record) lastActivity() time.Time {
	t := r.Assigned
	for _, x := range []time.Time{r.CustomerLast, r.AgentLast} {
		if x.After(t) {
			t = x
		}
	}
	return t
}

// customerWaiting reports whether the customer waits for the agent: the
// agent has not written since the assignment, or the customer wrote last.
func (r *Record) customerWaiting() bool {
	return r.AgentLast.Before(r.Assigned) || r.CustomerLast.After(r.AgentLast)
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

func ms(t time.Time) int64 { return t.UnixMilli() }

func msTime(s string) time.Time {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n == 0 {
		return time.Time{}
	}
	return time.UnixMilli(n)
}
