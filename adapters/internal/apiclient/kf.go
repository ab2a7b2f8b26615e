package apiclient

import (
	"context"
	"fmt"
)

// KFAPI calls the WeCom 微信客服 endpoints. Build its Client with the token
// source of the 微信客服 secret, which has its own cache key (PROTOCOLS.md §3.3).
type KFAPI struct{ c *Client }

// NewKFAPI wraps a WeCom client built with the kf secret's token source.
func NewKFAPI(c *Client) *KFAPI { return &KFAPI{c: c} }

// Session states of a 微信客服 conversation (PROTOCOLS.md §3.3).
const (
	KFStateUntreated = 0 // 未处理: the API may send
	KFStateBot       = 1 // 由智能助手接待: the API may send
	KFStatePool      = 2 // 待接入池排队中
	KFStateHuman     = 3 // 由人工接待 (needs a servicer)
	KFStateEnded     = 4 // 已结束/未开始
)

// SyncMsgRequest is a sync_msg pull.
type SyncMsgRequest struct {
	Cursor      string `json:"cursor,omitempty"`
	Token       string `json:"token,omitempty"`
	Limit       int    `json:"limit,omitempty"`
	VoiceFormat int    `json:"voice_format,omitempty"`
	OpenKfID    string `json:"open_kfid,omitempty"`
}

// SyncMsg pulls one page of messages: POST /cgi-bin/kf/sync_msg. It returns
// the response body for wxmsg.ParseKFSync. Keep pulling while has_more is 1,
// and persist next_cursor after the page is dispatched.
func (k *KFAPI) SyncMsg(ctx context.Context, req SyncMsgRequest) ([]byte, error) {
	body, err := k.c.DoRaw(ctx, Request{Path: "/cgi-bin/kf/sync_msg", Body: req})
	if err != nil {
		return nil, fmt.Errorf("pulling kf messages: %w", err)
	}
	return body, nil
}

// KFMessage is a 微信客服 message: POST /cgi-bin/kf/send_msg. MsgID, when
// set, must be unique per message (≤32 bytes of [0-9a-zA-Z_-]); derive one
// per part, never reuse the inbound id (LESSONS.md "MSG_ID重复").
type KFMessage struct {
	ToUser      string           `json:"touser"`
	OpenKfID    string           `json:"open_kfid"`
	MsgID       string           `json:"msgid,omitempty"`
	MsgType     string           `json:"msgtype"`
	Text        *Text            `json:"text,omitempty"`
	Image       *Media           `json:"image,omitempty"`
	Link        *KFLink          `json:"link,omitempty"`
	MiniProgram *MiniProgramPage `json:"miniprogram,omitempty"`
}

// KFLink is a 微信客服 link card.
type KFLink struct {
	Title        string `json:"title"`
	Desc         string `json:"desc,omitempty"`
	URL          string `json:"url"`
	ThumbMediaID string `json:"thumb_media_id"`
}

// KFText returns a 微信客服 text message.
func KFText(openKfID, toUser, msgID, content string) KFMessage {
	return KFMessage{ToUser: toUser, OpenKfID: openKfID, MsgID: msgID, MsgType: "text", Text: &Text{Content: content}}
}

// SendMsg sends a 微信客服 message and returns its msgid. It is allowed only
// in states 0 and 1 (IsKFSessionInvalid otherwise), 5 messages per customer
// message within 48 hours (IsQuotaExceeded).
func (k *KFAPI) SendMsg(ctx context.Context, msg KFMessage) (string, error) {
	if msg.ToUser == "" || msg.OpenKfID == "" || msg.MsgType == "" {
		return "", fmt.Errorf("sending kf message: %w: touser, open_kfid and msgtype are required", ErrBadRequest)
	}
	var out struct {
		MsgID string `json:"msgid"`
	}
	if err := k.c.Do(ctx, Request{Path: "/cgi-bin/kf/send_msg", Body: msg}, &out); err != nil {
		return "", fmt.Errorf("sending kf message: %w", err)
	}
	return out.MsgID, nil
}

// KFEventMessage answers an event code: POST /cgi-bin/kf/send_msg_on_event.
// Code is a welcome_code from enter_session (valid 20 s, one message) or a
// msg_code from a session state change.
type KFEventMessage struct {
	Code    string `json:"code"`
	MsgID   string `json:"msgid,omitempty"`
	MsgType string `json:"msgtype"`
	Text    *Text  `json:"text,omitempty"`
}

// SendMsgOnEvent sends a welcome or closing message and returns its msgid.
func (k *KFAPI) SendMsgOnEvent(ctx context.Context, msg KFEventMessage) (string, error) {
	if msg.Code == "" || msg.MsgType == "" {
		return "", fmt.Errorf("sending kf event message: %w: code and msgtype are required", ErrBadRequest)
	}
	var out struct {
		MsgID string `json:"msgid"`
	}
	if err := k.c.Do(ctx, Request{Path: "/cgi-bin/kf/send_msg_on_event", Body: msg}, &out); err != nil {
		return "", fmt.Errorf("sending kf event message: %w", err)
	}
	return out.MsgID, nil
}

// KFServiceState is a conversation's session state.
type KFServiceState struct {
	State          int    `json:"service_state"`
	ServicerUserID string `json:"servicer_userid"`
}

// ServiceState reads a conversation's state: POST /cgi-bin/kf/service_state/get.
func (k *KFAPI) ServiceState(ctx context.Context, openKfID, externalUserID string) (KFServiceState, error) {
	body := map[string]string{"open_kfid": openKfID, "external_userid": externalUserID}
	var out KFServiceState
	if err := k.c.Do(ctx, Request{Path: "/cgi-bin/kf/service_state/get", Body: body}, &out); err != nil {
		return KFServiceState{}, fmt.Errorf("getting kf service state: %w", err)
	}
	return out, nil
}

// TransServiceState moves a conversation to state (servicerUserID is required
// for KFStateHuman) and returns the msg_code for a send_msg_on_event message,
// if the platform issued one. Hand-off to a human is a move to KFStatePool or
// KFStateHuman (PROTOCOLS.md §3.3).
func (k *KFAPI) TransServiceState(ctx context.Context, openKfID, externalUserID string, state int, servicerUserID string) (string, error) {
	if state == KFStateHuman && servicerUserID == "" {
		return "", fmt.Errorf("changing kf service state: %w: servicer_userid is required for state 3", ErrBadRequest)
	}
	body := struct {
		OpenKfID       string `json:"open_kfid"`
		ExternalUserID string `json:"external_userid"`
		ServiceState   int    `json:"service_state"`
		ServicerUserID string `json:"servicer_userid,omitempty"`
	}{openKfID, externalUserID, state, servicerUserID}
	var out struct {
		MsgCode string `json:"msg_code"`
	}
	if err := k.c.Do(ctx, Request{Path: "/cgi-bin/kf/service_state/trans", Body: body}, &out); err != nil {
		return "", fmt.Errorf("changing kf service state: %w", err)
	}
	return out.MsgCode, nil
}
