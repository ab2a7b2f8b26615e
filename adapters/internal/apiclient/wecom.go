package apiclient

import (
	"context"
	"fmt"
)

// WeComAPI calls the WeCom self-built app endpoints kefu uses.
type WeComAPI struct{ c *Client }

// NewWeComAPI wraps a WeCom client built with the app secret's token source.
func NewWeComAPI(c *Client) *WeComAPI { return &WeComAPI{c: c} }

// Markdown is a markdown body.
type Markdown struct {
	Content string `json:"content"`
}

// AppMessage is an app message: POST /cgi-bin/message/send (PROTOCOLS.md
// §3.2). ToUser is "a|b" (≤1000) or "@all"; text over 2048 bytes is cut by
// the platform, so split first (message.SplitText).
type AppMessage struct {
	ToUser                 string    `json:"touser,omitempty"`
	ToParty                string    `json:"toparty,omitempty"`
	ToTag                  string    `json:"totag,omitempty"`
	MsgType                string    `json:"msgtype"`
	AgentID                int64     `json:"agentid"`
	Text                   *Text     `json:"text,omitempty"`
	Markdown               *Markdown `json:"markdown,omitempty"`
	Safe                   int       `json:"safe,omitempty"`
	EnableIDTrans          int       `json:"enable_id_trans,omitempty"`
	EnableDuplicateCheck   int       `json:"enable_duplicate_check,omitempty"`
	DuplicateCheckInterval int       `json:"duplicate_check_interval,omitempty"`
}

// AppText returns a text app message to users.
func AppText(agentID int64, toUser, content string) AppMessage {
	return AppMessage{ToUser: toUser, MsgType: "text", AgentID: agentID, Text: &Text{Content: content}}
}

// AppSendResult reports recipients the platform could not reach. A send with
// some invalid recipients still succeeds; all invalid is errcode 81013.
type AppSendResult struct {
	MsgID          string `json:"msgid"`
	InvalidUser    string `json:"invaliduser"`
	InvalidParty   string `json:"invalidparty"`
	InvalidTag     string `json:"invalidtag"`
	UnlicensedUser string `json:"unlicenseduser"`
	ResponseCode   string `json:"response_code"`
}

// SendApp sends an app message.
func (w *WeComAPI) SendApp(ctx context.Context, msg AppMessage) (AppSendResult, error) {
	if msg.MsgType == "" || (msg.ToUser == "" && msg.ToParty == "" && msg.ToTag == "") {
		return AppSendResult{}, fmt.Errorf("sending wecom app message: %w: msgtype and a recipient are required", ErrBadRequest)
	}
	var out AppSendResult
	if err := w.c.Do(ctx, Request{Path: "/cgi-bin/message/send", Body: msg}, &out); err != nil {
		return AppSendResult{}, fmt.Errorf("sending wecom app message: %w", err)
	}
	return out, nil
}
