package wxmsg

import (
	"fmt"
	"strings"
	"time"

	"github.com/kefu-gateway/kefu/adapters/internal/normalize"
	"github.com/kefu-gateway/kefu/adapters/internal/wxcrypto"
	"github.com/kefu-gateway/kefu/adapters/message"
)

// WeChat message and event type names as they appear in MsgType and Event.
const (
	typeText        = "text"
	typeImage       = "image"
	typeVoice       = "voice"
	typeVideo       = "video"
	typeShortVideo  = "shortvideo"
	typeLocation    = "location"
	typeLink        = "link"
	typeMiniProgram = "miniprogrampage"
	typeEvent       = "event"
)

// Meta keys set by the parsers.
const (
	MetaMsgType      = "msg_type"       // platform MsgType / msgtype
	MetaEvent        = "event"          // platform event name, as sent
	MetaTicket       = "ticket"         // OA QR-code ticket of subscribe/SCAN
	MetaAgentID      = "agent_id"       // WeCom app AgentID
	MetaThumbMediaID = "thumb_media_id" // video / mini-program cover
	MetaAppID        = "app_id"         // mini-program card's AppId
	MetaThumbURL     = "thumb_url"      // mini-program card's cover URL
)

// ParseOA parses a verified, decrypted official-account push (XML only,
// PROTOCOLS.md §1.1) for src.
func ParseOA(src normalize.Source, payload []byte) (message.Message, error) {
	p, err := decodePush(payload, wxcrypto.FormatXML)
	if err != nil {
		return message.Message{}, fmt.Errorf("parsing official-account push: %w", err)
	}
	m, err := pushToMessage(src, p, payload)
	if err != nil {
		return message.Message{}, fmt.Errorf("parsing official-account push: %w", err)
	}
	return m, nil
}

// ParseMP parses a verified, decrypted mini-program customer-service push in
// the account's configured format (XML or JSON, PROTOCOLS.md §2).
func ParseMP(src normalize.Source, payload []byte, format wxcrypto.Format) (message.Message, error) {
	p, err := decodePush(payload, format)
	if err != nil {
		return message.Message{}, fmt.Errorf("parsing mini-program push: %w", err)
	}
	m, err := pushToMessage(src, p, payload)
	if err != nil {
		return message.Message{}, fmt.Errorf("parsing mini-program push: %w", err)
	}
	return m, nil
}

// ParseWeComApp parses a verified, decrypted WeCom self-built app callback
// (XML, PROTOCOLS.md §3.1). The sender is a member UserID; ToUserName is the
// CorpID; AgentID goes to Meta["agent_id"].
func ParseWeComApp(src normalize.Source, payload []byte) (message.Message, error) {
	p, err := decodePush(payload, wxcrypto.FormatXML)
	if err != nil {
		return message.Message{}, fmt.Errorf("parsing wecom app callback: %w", err)
	}
	m, err := pushToMessage(src, p, payload)
	if err != nil {
		return message.Message{}, fmt.Errorf("parsing wecom app callback: %w", err)
	}
	if p.AgentID != "" {
		m.Meta[MetaAgentID] = string(p.AgentID)
	}
	return m, nil
}

// pushToMessage maps the decoded fields onto a message.
func pushToMessage(src normalize.Source, p *pushPayload, payload []byte) (message.Message, error) {
	if p.FromUserName == "" {
		return message.Message{}, fmt.Errorf("%w: FromUserName", ErrMissingField)
	}
	if p.MsgType == "" {
		return message.Message{}, fmt.Errorf("%w: MsgType", ErrMissingField)
	}
	if len(p.FromUserName) > maxIDLen || len(p.ToUserName) > maxIDLen || len(p.MsgID) > maxIDLen || len(p.MsgID2) > maxIDLen {
		return message.Message{}, fmt.Errorf("%w: an id is longer than %d bytes", ErrMalformed, maxIDLen)
	}
	msgType := strings.ToLower(p.MsgType)
	m := message.Message{
		ID:             string(p.MsgID),
		Channel:        src.Channel,
		Account:        src.Account,
		ConversationID: src.ConversationID(p.FromUserName),
		From:           message.Party{ID: p.FromUserName, UnionID: p.UnionID, Role: message.RoleCustomer},
		To:             message.Party{ID: p.ToUserName, Role: message.RoleBot},
		Meta:           map[string]string{MetaMsgType: p.MsgType},
		Raw:            append([]byte(nil), payload...),
	}
	if m.ID == "" {
		m.ID = string(p.MsgID2)
	}
	if p.CreateTime > 0 {
		m.Timestamp = time.Unix(int64(p.CreateTime), 0).UTC()
	}

	switch msgType {
	case typeText:
		m.Kind, m.Text = message.KindText, p.Content
	case typeImage:
		m.Kind = message.KindImage
		m.Attachments = []message.Attachment{{Kind: message.KindImage, URL: p.PicURL, MediaID: p.MediaID}}
	case typeVoice:
		// WeChat's speech recognition result, when enabled, is the text the
		// customer meant (LESSONS.md "Voice and images dropped").
		m.Kind, m.Text = message.KindVoice, strings.TrimSpace(p.Recognition)
		m.Attachments = []message.Attachment{{Kind: message.KindVoice, MediaID: p.MediaID, Format: p.Format}}
	case typeVideo, typeShortVideo:
		m.Kind = message.KindVideo
		m.Attachments = []message.Attachment{{Kind: message.KindVideo, MediaID: p.MediaID}}
		setMeta(m.Meta, MetaThumbMediaID, p.ThumbMediaID)
	case typeLocation:
		m.Kind = message.KindLocation
		m.Attachments = []message.Attachment{{Kind: message.KindLocation, Latitude: float64(p.LocationX), Longitude: float64(p.LocationY), Label: p.Label}}
	case typeLink:
		m.Kind = message.KindLink
		m.Attachments = []message.Attachment{{Kind: message.KindLink, Title: p.Title, Description: p.Description, URL: p.URL}}
	case typeMiniProgram:
		m.Kind = message.KindMiniProgram
		m.Attachments = []message.Attachment{{Kind: message.KindMiniProgram, Title: p.Title, URL: p.PagePath, MediaID: p.ThumbMediaID}}
		setMeta(m.Meta, MetaAppID, p.AppID)
		setMeta(m.Meta, MetaThumbURL, p.ThumbURL)
	case typeEvent:
		if p.Event == "" {
			return message.Message{}, fmt.Errorf("%w: Event", ErrMissingField)
		}
		m.Kind = message.KindEvent
		m.Event = pushEvent(p)
		m.Meta[MetaEvent] = p.Event
		setMeta(m.Meta, MetaTicket, p.Ticket)
		if m.Event.Type == "location" && (p.Latitude != 0 || p.Longitude != 0) {
			m.Attachments = []message.Attachment{{Kind: message.KindLocation, Latitude: float64(p.Latitude), Longitude: float64(p.Longitude)}}
		}
	default:
		m.Kind = message.KindUnsupported
	}
	if m.ID == "" {
		name := msgType
		if m.Event != nil {
			name = m.Event.Type
		}
		m.ID = normalize.EventID(p.FromUserName, int64(p.CreateTime), name)
	}
	return m, nil
}

// pushEvent normalizes a WeChat/WeCom event (PROTOCOLS.md §1, §2, §3.1).
func pushEvent(p *pushPayload) *message.Event {
	switch name := strings.ToLower(p.Event); name {
	case "subscribe":
		// A follow through a parametric QR code carries "qrscene_" + scene.
		return &message.Event{Type: message.EventSubscribe, Key: strings.TrimPrefix(p.EventKey, "qrscene_")}
	case "unsubscribe":
		return &message.Event{Type: message.EventUnsubscribe}
	case "scan":
		return &message.Event{Type: message.EventScan, Key: p.EventKey}
	case "click":
		return &message.Event{Type: message.EventClick, Key: p.EventKey}
	case "view":
		return &message.Event{Type: message.EventView, Key: p.EventKey}
	case "user_enter_tempsession":
		// Mini-program contact button; SessionFrom is the button's session-from.
		return &message.Event{Type: message.EventEnterSession, Key: p.SessionFrom}
	case "enter_agent":
		// A WeCom member opened the app.
		return &message.Event{Type: message.EventEnterSession, Key: p.EventKey}
	default:
		return &message.Event{Type: name, Key: p.EventKey}
	}
}

func setMeta(meta map[string]string, key, value string) {
	if value != "" {
		meta[key] = value
	}
}
