// Package message holds the normalized message every channel adapter produces
// and consumes. It is a leaf package: it imports nothing from kefu, so every
// other package can depend on it.
package message

import "time"

// Kind is what a message carries.
type Kind string

// Message kinds shared by all channels. Adapters map each platform type onto one
// of these; anything else becomes KindUnsupported and is still recorded.
const (
	KindText        Kind = "text"
	KindImage       Kind = "image"
	KindVoice       Kind = "voice"
	KindVideo       Kind = "video"
	KindFile        Kind = "file"
	KindLocation    Kind = "location"
	KindLink        Kind = "link"
	KindCard        Kind = "card"
	KindMiniProgram Kind = "miniprogram"
	KindEvent       Kind = "event"
	KindUnsupported Kind = "unsupported"
)

// Role says who wrote a message.
type Role string

// Roles of a message's author.
const (
	RoleCustomer Role = "customer"
	RoleBot      Role = "bot"
	RoleAgent    Role = "agent"
	RoleSystem   Role = "system"
)

// Party is one end of a message.
type Party struct {
	// ID is the platform's id for the party: an OpenID, a WeCom UserID, an
	// external_userid, a DingTalk staff id, a web visitor id.
	ID string `json:"id,omitempty"`
	// UnionID links one person across WeChat apps of the same open-platform
	// account (official account and mini-program), when the platform gives it.
	UnionID string `json:"union_id,omitempty"`
	Name    string `json:"name,omitempty"`
	Role    Role   `json:"role,omitempty"`
}

// Event types normalized across channels.
const (
	EventSubscribe       = "subscribe"         // WeChat OA follow; Key = QR scene without "qrscene_"
	EventUnsubscribe     = "unsubscribe"       // WeChat OA unfollow
	EventScan            = "scan"              // WeChat OA QR scan by a follower; Key = scene
	EventClick           = "click"             // menu click; Key = menu key
	EventView            = "view"              // menu link opened; Key = URL
	EventEnterSession    = "enter_session"     // mini-program / 微信客服 session entered; Key = SessionFrom / scene_param
	EventWebSessionStart = "web_session_start" // a web visitor opened a new session; Key = site id
)

// Event is a platform event such as a follow, a menu click or a session start.
type Event struct {
	Type string `json:"type"`
	Key  string `json:"key,omitempty"`
}

// Attachment is non-text content: a picture, a voice note, a file, a location, a link.
type Attachment struct {
	Kind        Kind    `json:"kind"`
	URL         string  `json:"url,omitempty"`
	MediaID     string  `json:"media_id,omitempty"`
	Title       string  `json:"title,omitempty"`
	Description string  `json:"description,omitempty"`
	Format      string  `json:"format,omitempty"`
	Latitude    float64 `json:"latitude,omitempty"`
	Longitude   float64 `json:"longitude,omitempty"`
	Label       string  `json:"label,omitempty"`
}

// Choice is a quick reply offered with a message. Channels with buttons render
// it natively; the others get a numbered text menu (see RenderChoices).
type Choice struct {
	Title   string `json:"title"`
	Payload string `json:"payload,omitempty"`
}

// Card is a link card (title, description, picture, URL).
type Card struct {
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
	URL         string `json:"url,omitempty"`
	PicURL      string `json:"pic_url,omitempty"`
}

// ReplyContext is what the platform allows for answering an inbound message.
type ReplyContext struct {
	// PassiveDeadline is when an answer inside the HTTP response stops being
	// possible; zero when the channel has no passive reply.
	PassiveDeadline time.Time `json:"passive_deadline,omitzero"`
	// Token is a per-message reply handle such as DingTalk's sessionWebhook or
	// a 微信客服 welcome_code; TokenExpires is when it stops working.
	Token        string    `json:"token,omitempty"`
	TokenExpires time.Time `json:"token_expires,omitzero"`
}

// Message is one normalized message, inbound or outbound.
type Message struct {
	// ID is the platform message id, the dedup key for inbound messages. For
	// events without one, adapters derive it (sender + CreateTime + event).
	ID string `json:"id,omitempty"`
	// Channel is the adapter kind ("wechat_oa", "web", ...); Account the
	// configured account id of that kind.
	Channel string `json:"channel"`
	Account string `json:"account"`
	// ConversationID is stable per account and customer (or group chat).
	ConversationID string `json:"conversation_id"`

	From Party `json:"from"`
	To   Party `json:"to,omitempty"`

	Kind        Kind         `json:"kind"`
	Text        string       `json:"text,omitempty"`
	Event       *Event       `json:"event,omitempty"`
	Attachments []Attachment `json:"attachments,omitempty"`
	Choices     []Choice     `json:"choices,omitempty"`
	Card        *Card        `json:"card,omitempty"`
	// Markdown marks Text as markdown; channels that show raw text get it stripped.
	Markdown bool `json:"markdown,omitempty"`

	Reply     ReplyContext `json:"reply,omitzero"`
	Timestamp time.Time    `json:"ts"`
	// Meta carries adapter-specific routing data the adapter needs to answer
	// (for example a 微信客服 open_kfid or a DingTalk conversation type).
	Meta map[string]string `json:"meta,omitempty"`
	// Raw is the decrypted platform payload, kept for audit and fixtures; it
	// never goes to logs at info level.
	Raw []byte `json:"-"`
}

// IsCustomer reports whether the message was written by a customer.
func (m *Message) IsCustomer() bool { return m.From.Role == RoleCustomer || m.From.Role == "" }
