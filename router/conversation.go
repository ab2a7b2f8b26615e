package router

import (
	"encoding/json"
	"time"

	"github.com/kefu-gateway/kefu/adapters/message"
	"github.com/kefu-gateway/kefu/flows"
)

// Conversation is the state kept in Redis for one conversation (one customer
// on one account). The router loads it at the start of a turn and commits it
// at the end with a compare-and-set on Version.
type Conversation struct {
	ID       string        `json:"id"`
	Channel  string        `json:"channel"`
	Account  string        `json:"account"`
	Customer message.Party `json:"customer"`

	Flow flows.State `json:"flow"`
	// Misses counts consecutive turns nothing could answer.
	Misses int `json:"misses,omitempty"`
	// LLMTokens counts the LLM tokens spent on this conversation.
	LLMTokens int `json:"llm_tokens,omitempty"`
	// Ext holds other components' per-conversation state by component name.
	Ext map[string]json.RawMessage `json:"ext,omitempty"`

	Started     time.Time `json:"started"`
	LastInbound time.Time `json:"last_inbound"`
	Turns       int       `json:"turns"`

	// Version is the commit counter (hash field v); zero for a new conversation.
	Version int64 `json:"-"`
	// Contact is the customer's profile for this turn (not stored here; the
	// contacts component keeps it).
	Contact flows.Contact `json:"-"`
	// Meta is routing data for messages kefu starts itself (for example a
	// 微信客服 open_kfid), given by the caller of StartFlow; not stored.
	Meta map[string]string `json:"-"`

	// Owner is who answers the customer (hash field o): empty for the bot,
	// otherwise a handoff owner such as "agent:alice". While it is set the
	// bot never speaks, checked again at send time.
	Owner string `json:"-"`
}

// BotOwned reports whether the bot answers this conversation.
func (c *Conversation) BotOwned() bool { return c.Owner == "" }
