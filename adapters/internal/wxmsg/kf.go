package wxmsg

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/kefu-gateway/kefu/adapters/internal/normalize"
	"github.com/kefu-gateway/kefu/adapters/internal/wxcrypto"
	"github.com/kefu-gateway/kefu/adapters/message"
)

// KFEventMsgOrEvent is the only event of the 微信客服 callback: new messages
// or events are waiting to be pulled with sync_msg (PROTOCOLS.md §3.3).
const KFEventMsgOrEvent = "kf_msg_or_event"

// KFCallback is the decrypted 微信客服 callback. It carries no message
// content: the receiver pulls with sync_msg, passing Token (valid 10 minutes;
// without it sync_msg is strictly rate-limited) and OpenKfID.
type KFCallback struct {
	CorpID     string // ToUserName
	CreateTime time.Time
	Event      string // KFEventMsgOrEvent for message notifications
	Token      string
	OpenKfID   string
}

// IsMsgOrEvent reports whether the callback announces messages to pull.
func (c KFCallback) IsMsgOrEvent() bool { return c.Event == KFEventMsgOrEvent }

// ParseKFCallback parses a verified, decrypted 微信客服 callback:
// <xml><ToUserName/><CreateTime/><MsgType>event</MsgType>
// <Event>kf_msg_or_event</Event><Token/><OpenKfId/></xml>.
func ParseKFCallback(payload []byte) (KFCallback, error) {
	p, err := decodePush(payload, wxcrypto.FormatXML)
	if err != nil {
		return KFCallback{}, fmt.Errorf("parsing kf callback: %w", err)
	}
	if p.Event == "" {
		return KFCallback{}, fmt.Errorf("parsing kf callback: %w: Event", ErrMissingField)
	}
	if p.Event == KFEventMsgOrEvent && p.Token == "" {
		return KFCallback{}, fmt.Errorf("parsing kf callback: %w: Token", ErrMissingField)
	}
	if len(p.Token) > maxIDLen || len(p.OpenKfID) > maxIDLen {
		return KFCallback{}, fmt.Errorf("parsing kf callback: %w: Token or OpenKfId longer than %d bytes", ErrMalformed, maxIDLen)
	}
	cb := KFCallback{CorpID: p.ToUserName, Event: p.Event, Token: p.Token, OpenKfID: p.OpenKfID}
	if p.CreateTime > 0 {
		cb.CreateTime = time.Unix(int64(p.CreateTime), 0).UTC()
	}
	return cb, nil
}

// Origins of a sync_msg item (PROTOCOLS.md §3.3).
const (
	KFOriginCustomer = 3 // written by the WeChat customer
	KFOriginSystem   = 4 // an event pushed by the platform
	KFOriginServicer = 5 // written by a servicer in the WeCom client
)

// welcomeCodeTTL is how long an enter_session welcome_code can be used with
// send_msg_on_event (PROTOCOLS.md §3.3 "valid 20 s, 1 msg").
const welcomeCodeTTL = 20 * time.Second

// Meta keys of 微信客服 messages.
const (
	MetaOpenKfID       = "open_kfid"
	MetaServicerUserID = "servicer_userid"
	MetaMenuID         = "menu_id"
	MetaScene          = "scene"
)

// KFSyncPage is one sync_msg response, split into what a bot answers and what
// it does not.
type KFSyncPage struct {
	// NextCursor must be persisted (after the page is dispatched) and sent
	// with the next pull.
	NextCursor string
	// HasMore says to pull again at once, even when this page was empty.
	HasMore bool
	// Messages holds the customer's messages (origin 3) and enter_session
	// events, in page order, ready for the router.
	Messages []message.Message
	// Others holds everything else: servicer messages (origin 5, never
	// answered, to avoid echo loops), other system events such as
	// session_status_change or msg_send_fail, and items that failed to
	// decode (Err set). Callers may act on them or ignore them.
	Others []KFItem
}

// KFItem is a sync_msg item that is not a customer message.
type KFItem struct {
	MsgID          string
	Origin         int
	MsgType        string
	OpenKfID       string
	ExternalUserID string
	ServicerUserID string
	SendTime       time.Time
	// Event is set for msgtype "event".
	Event *KFEvent
	// Raw is the item's JSON.
	Raw json.RawMessage
	// Err is set when the item could not be decoded; the rest of the page is
	// still usable, so one bad item never blocks the cursor.
	Err error
}

// KFEvent holds the fields of 微信客服 system events.
type KFEvent struct {
	EventType         string `json:"event_type"`
	OpenKfID          string `json:"open_kfid"`
	ExternalUserID    string `json:"external_userid"`
	Scene             string `json:"scene"`
	SceneParam        string `json:"scene_param"`
	WelcomeCode       string `json:"welcome_code"`
	ServicerUserID    string `json:"servicer_userid"`
	Status            int    `json:"status"`
	ChangeType        int    `json:"change_type"`
	OldServicerUserID string `json:"old_servicer_userid"`
	NewServicerUserID string `json:"new_servicer_userid"`
	MsgCode           string `json:"msg_code"`
	FailMsgID         string `json:"fail_msgid"`
	FailType          int    `json:"fail_type"`
	RecallMsgID       string `json:"recall_msgid"`
}

// kfSyncResponse is the sync_msg response body.
type kfSyncResponse struct {
	ErrCode    int               `json:"errcode"`
	ErrMsg     string            `json:"errmsg"`
	NextCursor string            `json:"next_cursor"`
	HasMore    int               `json:"has_more"`
	MsgList    []json.RawMessage `json:"msg_list"`
}

type kfMedia struct {
	MediaID string `json:"media_id"`
}

// kfWireItem is one msg_list entry.
type kfWireItem struct {
	MsgID          string  `json:"msgid"`
	OpenKfID       string  `json:"open_kfid"`
	ExternalUserID string  `json:"external_userid"`
	SendTime       flexInt `json:"send_time"`
	Origin         int     `json:"origin"`
	ServicerUserID string  `json:"servicer_userid"`
	MsgType        string  `json:"msgtype"`
	Text           *struct {
		Content string `json:"content"`
		MenuID  string `json:"menu_id"`
	} `json:"text"`
	Image    *kfMedia `json:"image"`
	Voice    *kfMedia `json:"voice"`
	Video    *kfMedia `json:"video"`
	File     *kfMedia `json:"file"`
	Location *struct {
		Latitude  float64 `json:"latitude"`
		Longitude float64 `json:"longitude"`
		Name      string  `json:"name"`
		Address   string  `json:"address"`
	} `json:"location"`
	Link *struct {
		Title  string `json:"title"`
		Desc   string `json:"desc"`
		URL    string `json:"url"`
		PicURL string `json:"pic_url"`
	} `json:"link"`
	MiniProgram *struct {
		AppID        string `json:"appid"`
		Title        string `json:"title"`
		ThumbMediaID string `json:"thumb_media_id"`
		PagePath     string `json:"pagepath"`
	} `json:"miniprogram"`
	Event *KFEvent `json:"event"`
}

// ParseKFSync parses a sync_msg response body (PROTOCOLS.md §3.3). A non-zero
// errcode is an error; the HTTP client normally reports it first. Customer
// messages (origin 3) and enter_session events become messages for src; an
// enter_session's welcome_code goes to Reply.Token with a 20-second expiry
// and its scene_param to Event.Key.
func ParseKFSync(src normalize.Source, body []byte) (KFSyncPage, error) {
	if len(body) > MaxKFSyncLen {
		return KFSyncPage{}, fmt.Errorf("parsing kf sync_msg response: %w: %d bytes (limit %d)", ErrTooLarge, len(body), MaxKFSyncLen)
	}
	var resp kfSyncResponse
	if err := json.Unmarshal(body, &resp); err != nil {
		return KFSyncPage{}, fmt.Errorf("parsing kf sync_msg response: %w: %v", ErrMalformed, err)
	}
	if resp.ErrCode != 0 {
		return KFSyncPage{}, fmt.Errorf("parsing kf sync_msg response: %w: errcode %d", ErrMalformed, resp.ErrCode)
	}
	page := KFSyncPage{NextCursor: resp.NextCursor, HasMore: resp.HasMore == 1}
	for _, raw := range resp.MsgList {
		raw = bytes.Clone(raw)
		var it kfWireItem
		if err := json.Unmarshal(raw, &it); err != nil {
			page.Others = append(page.Others, KFItem{Raw: raw, Err: fmt.Errorf("%w: msg_list item: %v", ErrMalformed, err)})
			continue
		}
		if m, ok := kfMessage(src, &it, raw); ok {
			page.Messages = append(page.Messages, m)
			continue
		}
		page.Others = append(page.Others, kfOther(&it, raw))
	}
	return page, nil
}

// kfMessage converts an item into a message when a bot should see it.
func kfMessage(src normalize.Source, it *kfWireItem, raw json.RawMessage) (message.Message, bool) {
	if it.MsgID == "" || len(it.MsgID) > maxIDLen {
		return message.Message{}, false
	}
	sent := time.Time{}
	if it.SendTime > 0 {
		sent = time.Unix(int64(it.SendTime), 0).UTC()
	}
	switch {
	case it.Origin == KFOriginCustomer && it.MsgType != typeEvent:
		if it.ExternalUserID == "" || it.OpenKfID == "" {
			return message.Message{}, false
		}
		m := kfBase(src, it.MsgID, it.OpenKfID, it.ExternalUserID, it.MsgType, sent, raw)
		setMeta(m.Meta, MetaServicerUserID, it.ServicerUserID)
		kfContent(&m, it)
		return m, true
	case it.MsgType == typeEvent && it.Event != nil && it.Event.EventType == "enter_session":
		ev := it.Event
		if ev.ExternalUserID == "" || ev.OpenKfID == "" {
			return message.Message{}, false
		}
		m := kfBase(src, it.MsgID, ev.OpenKfID, ev.ExternalUserID, it.MsgType, sent, raw)
		m.Kind = message.KindEvent
		m.Event = &message.Event{Type: message.EventEnterSession, Key: ev.SceneParam}
		m.Meta[MetaEvent] = ev.EventType
		setMeta(m.Meta, MetaScene, ev.Scene)
		if ev.WelcomeCode != "" {
			m.Reply.Token = ev.WelcomeCode
			if !sent.IsZero() {
				m.Reply.TokenExpires = sent.Add(welcomeCodeTTL)
			}
		}
		return m, true
	}
	return message.Message{}, false
}

// kfBase builds the common part of a 微信客服 message. The conversation is
// per kf account and customer: one corp may run several kf accounts.
func kfBase(src normalize.Source, msgID, openKfID, externalUserID, msgType string, sent time.Time, raw json.RawMessage) message.Message {
	return message.Message{
		ID:             msgID,
		Channel:        src.Channel,
		Account:        src.Account,
		ConversationID: src.ConversationID(openKfID + "/" + externalUserID),
		From:           message.Party{ID: externalUserID, Role: message.RoleCustomer},
		To:             message.Party{ID: openKfID, Role: message.RoleBot},
		Timestamp:      sent,
		Meta:           map[string]string{MetaMsgType: msgType, MetaOpenKfID: openKfID},
		Raw:            raw,
	}
}

// kfContent maps a customer message body.
func kfContent(m *message.Message, it *kfWireItem) {
	switch {
	case it.MsgType == "text" && it.Text != nil:
		m.Kind, m.Text = message.KindText, it.Text.Content
		setMeta(m.Meta, MetaMenuID, it.Text.MenuID)
	case it.MsgType == "image" && it.Image != nil:
		m.Kind = message.KindImage
		m.Attachments = []message.Attachment{{Kind: message.KindImage, MediaID: it.Image.MediaID}}
	case it.MsgType == "voice" && it.Voice != nil:
		m.Kind = message.KindVoice
		m.Attachments = []message.Attachment{{Kind: message.KindVoice, MediaID: it.Voice.MediaID}}
	case it.MsgType == "video" && it.Video != nil:
		m.Kind = message.KindVideo
		m.Attachments = []message.Attachment{{Kind: message.KindVideo, MediaID: it.Video.MediaID}}
	case it.MsgType == "file" && it.File != nil:
		m.Kind = message.KindFile
		m.Attachments = []message.Attachment{{Kind: message.KindFile, MediaID: it.File.MediaID}}
	case it.MsgType == "location" && it.Location != nil:
		l := it.Location
		m.Kind = message.KindLocation
		m.Attachments = []message.Attachment{{Kind: message.KindLocation, Latitude: l.Latitude, Longitude: l.Longitude, Label: l.Name, Description: l.Address}}
	case it.MsgType == "link" && it.Link != nil:
		l := it.Link
		m.Kind = message.KindLink
		m.Attachments = []message.Attachment{{Kind: message.KindLink, Title: l.Title, Description: l.Desc, URL: l.URL}}
		setMeta(m.Meta, MetaThumbURL, l.PicURL)
	case it.MsgType == "miniprogram" && it.MiniProgram != nil:
		mp := it.MiniProgram
		m.Kind = message.KindMiniProgram
		m.Attachments = []message.Attachment{{Kind: message.KindMiniProgram, Title: mp.Title, URL: mp.PagePath, MediaID: mp.ThumbMediaID}}
		setMeta(m.Meta, MetaAppID, mp.AppID)
	default:
		m.Kind = message.KindUnsupported
	}
}

// kfOther describes an item the bot does not answer.
func kfOther(it *kfWireItem, raw json.RawMessage) KFItem {
	o := KFItem{
		MsgID:          it.MsgID,
		Origin:         it.Origin,
		MsgType:        it.MsgType,
		OpenKfID:       it.OpenKfID,
		ExternalUserID: it.ExternalUserID,
		ServicerUserID: it.ServicerUserID,
		Event:          it.Event,
		Raw:            raw,
	}
	if it.SendTime > 0 {
		o.SendTime = time.Unix(int64(it.SendTime), 0).UTC()
	}
	if ev := it.Event; ev != nil {
		if o.OpenKfID == "" {
			o.OpenKfID = ev.OpenKfID
		}
		if o.ExternalUserID == "" {
			o.ExternalUserID = ev.ExternalUserID
		}
	}
	return o
}
