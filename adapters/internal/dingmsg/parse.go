package dingmsg

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/kefu-gateway/kefu/adapters/internal/normalize"
	"github.com/kefu-gateway/kefu/adapters/message"
)

// Errors of Parse.
var (
	ErrMalformed    = errors.New("malformed dingtalk callback")
	ErrMissingField = errors.New("missing required field")
	ErrTooLarge     = errors.New("dingtalk callback too large")
)

// MaxBodyLen bounds one callback body (CONTRACT.md's 1 MiB default).
const MaxBodyLen = 1 << 20

// Conversation types (PROTOCOLS.md §4.1).
const (
	ConversationSingle = "1"
	ConversationGroup  = "2"
)

// Meta keys set by Parse. The adapter needs them to answer after the
// sessionWebhook expires: OpenAPI 1:1 sends take robot_code + the staff id,
// group sends take robot_code + conversation_id.
const (
	MetaMsgType           = "msg_type"
	MetaConversationType  = "conversation_type"
	MetaConversationID    = "conversation_id"
	MetaConversationTitle = "conversation_title"
	MetaSenderID          = "sender_id" // encrypted dingtalk id; From.ID is the staff id
	MetaSenderCorpID      = "sender_corp_id"
	MetaRobotCode         = "robot_code"
	MetaChatbotUserID     = "chatbot_user_id"
	MetaIsAdmin           = "is_admin"
	MetaDownloadCode      = "download_code"
)

// callback is the robot callback body (PROTOCOLS.md §4.1; the stream SDK's
// BotCallbackDataModel has the same fields).
type callback struct {
	MsgType                   string                    `json:"msgtype"`
	MsgID                     string                    `json:"msgId"`
	CreateAt                  json.Number               `json:"createAt"`
	ConversationType          string                    `json:"conversationType"`
	ConversationID            string                    `json:"conversationId"`
	ConversationTitle         string                    `json:"conversationTitle"`
	SenderID                  string                    `json:"senderId"`
	SenderStaffID             string                    `json:"senderStaffId"`
	SenderNick                string                    `json:"senderNick"`
	SenderCorpID              string                    `json:"senderCorpId"`
	IsAdmin                   bool                      `json:"isAdmin"`
	SessionWebhook            string                    `json:"sessionWebhook"`
	SessionWebhookExpiredTime json.Number               `json:"sessionWebhookExpiredTime"`
	ChatbotUserID             string                    `json:"chatbotUserId"`
	RobotCode                 string                    `json:"robotCode"`
	Text                      *struct{ Content string } `json:"text"`
	Content                   json.RawMessage           `json:"content"`
}

// content is the "content" object of picture, audio, video, file and
// richText messages.
type content struct {
	DownloadCode        string `json:"downloadCode"`
	PictureDownloadCode string `json:"pictureDownloadCode"`
	Recognition         string `json:"recognition"`
	FileName            string `json:"fileName"`
	RichText            []struct {
		Type                string `json:"type"`
		Text                string `json:"text"`
		DownloadCode        string `json:"downloadCode"`
		PictureDownloadCode string `json:"pictureDownloadCode"`
	} `json:"richText"`
}

// Parse parses a robot callback body for src. Text has the @mention artefacts
// trimmed: DingTalk removes the robot's @name but leaves the separating
// whitespace (often U+2005) in front (PROTOCOLS.md §4.1). In a 1:1 chat the
// conversation is keyed by the sender's staff id, in a group by the
// conversationId; sessionWebhook and its expiry go to Reply.Token and
// Reply.TokenExpires.
func Parse(src normalize.Source, body []byte) (message.Message, error) {
	if len(body) > MaxBodyLen {
		return message.Message{}, fmt.Errorf("parsing dingtalk callback: %w: %d bytes", ErrTooLarge, len(body))
	}
	var cb callback
	if err := json.Unmarshal(body, &cb); err != nil {
		return message.Message{}, fmt.Errorf("parsing dingtalk callback: %w: %v", ErrMalformed, err)
	}
	sender := cb.SenderStaffID
	if sender == "" {
		sender = cb.SenderID // users outside the robot's organization have no staff id
	}
	for _, f := range []struct{ name, value string }{
		{"msgId", cb.MsgID}, {"msgtype", cb.MsgType}, {"senderStaffId", sender}, {"conversationId", cb.ConversationID},
	} {
		if f.value == "" {
			return message.Message{}, fmt.Errorf("parsing dingtalk callback: %w: %s", ErrMissingField, f.name)
		}
		if len(f.value) > 512 {
			return message.Message{}, fmt.Errorf("parsing dingtalk callback: %w: %s longer than 512 bytes", ErrMalformed, f.name)
		}
	}
	peer := sender
	switch cb.ConversationType {
	case ConversationSingle:
	case ConversationGroup:
		peer = cb.ConversationID
	default:
		return message.Message{}, fmt.Errorf("parsing dingtalk callback: %w: conversationType %.8q is neither 1 nor 2", ErrMalformed, cb.ConversationType)
	}
	createAt, err := millis(cb.CreateAt)
	if err != nil {
		return message.Message{}, fmt.Errorf("parsing dingtalk callback: %w: createAt: %v", ErrMalformed, err)
	}
	expires, err := millis(cb.SessionWebhookExpiredTime)
	if err != nil {
		return message.Message{}, fmt.Errorf("parsing dingtalk callback: %w: sessionWebhookExpiredTime: %v", ErrMalformed, err)
	}

	m := message.Message{
		ID:             cb.MsgID,
		Channel:        src.Channel,
		Account:        src.Account,
		ConversationID: src.ConversationID(peer),
		From:           message.Party{ID: sender, Name: cb.SenderNick, Role: message.RoleCustomer},
		To:             message.Party{ID: cb.ChatbotUserID, Role: message.RoleBot},
		Timestamp:      createAt,
		Reply:          message.ReplyContext{Token: cb.SessionWebhook, TokenExpires: expires},
		Meta: map[string]string{
			MetaMsgType:          cb.MsgType,
			MetaConversationType: cb.ConversationType,
			MetaConversationID:   cb.ConversationID,
		},
		Raw: bytes.Clone(body),
	}
	setMeta(m.Meta, MetaConversationTitle, cb.ConversationTitle)
	setMeta(m.Meta, MetaSenderID, cb.SenderID)
	setMeta(m.Meta, MetaSenderCorpID, cb.SenderCorpID)
	setMeta(m.Meta, MetaRobotCode, cb.RobotCode)
	setMeta(m.Meta, MetaChatbotUserID, cb.ChatbotUserID)
	if cb.IsAdmin {
		m.Meta[MetaIsAdmin] = "true"
	}
	if err := setContent(&m, &cb); err != nil {
		return message.Message{}, fmt.Errorf("parsing dingtalk callback: %w", err)
	}
	return m, nil
}

// setContent maps the message body by type.
func setContent(m *message.Message, cb *callback) error {
	var c content
	if len(cb.Content) > 0 && cb.Content[0] == '{' {
		if err := json.Unmarshal(cb.Content, &c); err != nil {
			return fmt.Errorf("%w: content: %v", ErrMalformed, err)
		}
	}
	code := c.DownloadCode
	if code == "" {
		code = c.PictureDownloadCode
	}
	switch cb.MsgType {
	case "text":
		if cb.Text == nil {
			return fmt.Errorf("%w: text", ErrMissingField)
		}
		m.Kind, m.Text = message.KindText, strings.TrimSpace(cb.Text.Content)
	case "picture":
		m.Kind = message.KindImage
		m.Attachments = []message.Attachment{{Kind: message.KindImage, MediaID: code}}
	case "audio":
		// DingTalk's speech recognition result is what the customer said.
		m.Kind, m.Text = message.KindVoice, strings.TrimSpace(c.Recognition)
		m.Attachments = []message.Attachment{{Kind: message.KindVoice, MediaID: code}}
	case "video":
		m.Kind = message.KindVideo
		m.Attachments = []message.Attachment{{Kind: message.KindVideo, MediaID: code}}
	case "file":
		m.Kind = message.KindFile
		m.Attachments = []message.Attachment{{Kind: message.KindFile, MediaID: code, Title: c.FileName}}
	case "richText":
		// Text parts joined in order; pictures become attachments.
		var b strings.Builder
		for _, part := range c.RichText {
			switch {
			case part.Text != "":
				b.WriteString(part.Text)
			case part.Type == "picture":
				pc := part.DownloadCode
				if pc == "" {
					pc = part.PictureDownloadCode
				}
				m.Attachments = append(m.Attachments, message.Attachment{Kind: message.KindImage, MediaID: pc})
			}
		}
		m.Kind, m.Text = message.KindText, strings.TrimSpace(b.String())
	default:
		m.Kind = message.KindUnsupported
	}
	setMeta(m.Meta, MetaDownloadCode, code)
	return nil
}

// millis converts a millisecond timestamp; absent means zero time.
func millis(n json.Number) (time.Time, error) {
	if n == "" {
		return time.Time{}, nil
	}
	ms, err := strconv.ParseInt(n.String(), 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("want integer milliseconds, got %.20q", n.String())
	}
	return time.UnixMilli(ms).UTC(), nil
}

func setMeta(meta map[string]string, key, value string) {
	if value != "" {
		meta[key] = value
	}
}
