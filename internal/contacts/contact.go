// Package contacts keeps one profile per customer: the identities the
// customer has on each channel (linked through WeChat's UnionID or by an
// operator), attributes, tags, notes, first and last seen, the time zone and
// the opt-out from messages kefu starts (follow-ups and campaigns).
//
// Everything lives in Redis under one Cluster hash tag (see Keys); each
// operation is one Lua script, so a contact is resolved, created, touched
// and read in a single round trip.
package contacts

import (
	"errors"
	"time"

	"github.com/kefu-gateway/kefu/flows"
)

// ErrNotFound is returned for contacts that do not exist.
var ErrNotFound = errors.New("contact not found")

// Contact is one customer's profile.
type Contact struct {
	ID string `json:"id"`
	// Name is the name an operator, agent or flow set, else the name the
	// platform gave (PlatformName).
	Name         string `json:"name,omitempty"`
	PlatformName string `json:"platform_name,omitempty"`
	// Timezone is an IANA zone name ("Asia/Shanghai"); empty means the
	// configured default.
	Timezone   string            `json:"timezone,omitempty"`
	UnionID    string            `json:"union_id,omitempty"`
	Attributes map[string]string `json:"attributes"`
	Tags       []string          `json:"tags"`
	// OptedOut is set when the customer asked for no more messages kefu
	// starts itself (follow-ups, campaigns); OptOutSource says how.
	OptedOut     bool       `json:"opted_out"`
	OptedOutAt   *time.Time `json:"opted_out_at,omitempty"`
	OptOutSource string     `json:"opt_out_source,omitempty"`
	Identities   []Identity `json:"identities"`
	Notes        []Note     `json:"notes"`
	Created      time.Time  `json:"created"`
	FirstSeen    time.Time  `json:"first_seen"`
	LastSeen     time.Time  `json:"last_seen"`
	// LastInbound is when the customer last wrote on any channel (zero if
	// never). Follow-ups that cancel on reply compare it with their own.
	LastInbound time.Time `json:"last_inbound,omitzero"`

	// version is the profile's change counter (hash field pv; see
	// recentContacts).
	version string
}

// Identity is the customer on one channel account.
type Identity struct {
	Channel string `json:"channel"`
	Account string `json:"account"`
	// ID is the platform's id of the customer (OpenID, external_userid,
	// web visitor id ...).
	ID      string `json:"id"`
	UnionID string `json:"union_id,omitempty"`
	// ConversationID is the conversation on that account, once the customer
	// wrote there.
	ConversationID string    `json:"conversation_id,omitempty"`
	FirstSeen      time.Time `json:"first_seen,omitzero"`
	// LastInbound is when the customer last wrote on this account: the
	// platforms' reply windows (WeChat: 48 h) count from it.
	LastInbound time.Time `json:"last_inbound,omitzero"`
	// Meta is the routing data the channel put on the customer's last
	// message (a 微信客服 open_kfid ...): messages kefu starts carry it, so
	// the adapter can address them.
	Meta map[string]string `json:"meta,omitempty"`
}

// Key is the identity's index key: "<channel>/<account>/<id>".
func (i Identity) Key() string { return i.Channel + "/" + i.Account + "/" + i.ID }

// Note is an operator's or agent's note on a contact.
type Note struct {
	At     time.Time `json:"at"`
	Author string    `json:"author,omitempty"`
	Text   string    `json:"text"`
}

// Identity returns the contact's identity on channel (and account, when
// not empty) that the customer wrote from most recently.
func (c *Contact) Identity(channel, account string) (Identity, bool) {
	var best Identity
	found := false
	for _, id := range c.Identities {
		if id.Channel != channel || (account != "" && id.Account != account) {
			continue
		}
		if !found || id.LastInbound.After(best.LastInbound) {
			best, found = id, true
		}
	}
	return best, found
}

// LatestIdentity returns the identity the customer wrote from most
// recently on any channel.
func (c *Contact) LatestIdentity() (Identity, bool) {
	var best Identity
	found := false
	for _, id := range c.Identities {
		if !found || id.LastInbound.After(best.LastInbound) {
			best, found = id, true
		}
	}
	return best, found
}

// HasTag reports whether the contact has tag.
func (c *Contact) HasTag(tag string) bool {
	for _, t := range c.Tags {
		if t == tag {
			return true
		}
	}
	return false
}

// Flows returns what the flows engine knows of the contact
// (flows.Input.Contact): id, name, attributes and tags.
func (c *Contact) Flows() flows.Contact {
	if c == nil {
		return flows.Contact{}
	}
	return flows.Contact{ID: c.ID, Name: c.Name, Attributes: c.Attributes, Tags: c.Tags}
}
