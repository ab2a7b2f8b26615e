package followup

import (
	"encoding/json"
	"time"
)

// Follow-up statuses.
const (
	StatusScheduled = "scheduled"
	StatusSending   = "sending"
	StatusSent      = "sent"
	StatusSkipped   = "skipped"
	StatusFailed    = "failed"
	StatusCancelled = "cancelled"
)

// Record is a follow-up as stored and listed. One exists per conversation
// and follow-up id: scheduling the same id again replaces it.
type Record struct {
	// Key is "<conversation id>|<id>", unique within the contact.
	Key            string `json:"key"`
	ID             string `json:"id"`
	ContactID      string `json:"contact_id"`
	ConversationID string `json:"conversation_id"`
	Channel        string `json:"channel"`
	Account        string `json:"account"`
	CustomerID     string `json:"customer_id"`
	Text           string `json:"text,omitempty"`
	Flow           string `json:"flow,omitempty"`
	CancelOnReply  bool   `json:"cancel_on_reply"`
	// Source says who scheduled it: "flow", "api", "agent:amy" ...
	Source  string    `json:"source,omitempty"`
	Due     time.Time `json:"due"`
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
	Status  string    `json:"status"`
	// Reason is a Reason* code for skipped, failed and cancelled ones;
	// Detail says more.
	Reason string `json:"reason,omitempty"`
	Detail string `json:"detail,omitempty"`
	// Template is true when it went out as the window fallback template.
	Template bool `json:"template,omitempty"`
	// Deferrals counts moves to the end of quiet hours.
	Deferrals int `json:"deferrals,omitempty"`

	// Gen increases each time the record is (re)scheduled; a task whose
	// generation is not the record's is stale and does nothing.
	Gen int64 `json:"gen"`
	// Lin is the contact's last-inbound mark when it was scheduled: a
	// later one means the customer replied since.
	Lin int64 `json:"lin"`
	// U is Updated in ms, for pruning.
	U int64 `json:"u"`
}

func (r *Record) finished() bool {
	return r.Status != StatusScheduled && r.Status != StatusSending
}

func decodeRecord(s string) (*Record, error) {
	var r Record
	if err := json.Unmarshal([]byte(s), &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// View is a record as the operator API shows it: without the fields only
// the scripts use.
type View struct {
	Key            string    `json:"key"`
	ID             string    `json:"id"`
	ContactID      string    `json:"contact_id"`
	ConversationID string    `json:"conversation_id"`
	Channel        string    `json:"channel"`
	Account        string    `json:"account"`
	CustomerID     string    `json:"customer_id"`
	Text           string    `json:"text,omitempty"`
	Flow           string    `json:"flow,omitempty"`
	CancelOnReply  bool      `json:"cancel_on_reply"`
	Source         string    `json:"source,omitempty"`
	Due            time.Time `json:"due"`
	Created        time.Time `json:"created"`
	Updated        time.Time `json:"updated"`
	Status         string    `json:"status"`
	Reason         string    `json:"reason,omitempty"`
	Detail         string    `json:"detail,omitempty"`
	Template       bool      `json:"template,omitempty"`
	Deferrals      int       `json:"deferrals,omitempty"`
}

// View returns the record as the operator API shows it.
func (r *Record) View() View {
	return View{Key: r.Key, ID: r.ID, ContactID: r.ContactID, ConversationID: r.ConversationID, Channel: r.Channel,
		Account: r.Account, CustomerID: r.CustomerID, Text: r.Text, Flow: r.Flow, CancelOnReply: r.CancelOnReply,
		Source: r.Source, Due: r.Due, Created: r.Created, Updated: r.Updated, Status: r.Status, Reason: r.Reason,
		Detail: r.Detail, Template: r.Template, Deferrals: r.Deferrals}
}
