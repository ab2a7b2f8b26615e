package apiclient

import (
	"context"
	"fmt"
)

// WeChatAPI calls the official-account and mini-program endpoints kefu uses.
type WeChatAPI struct{ c *Client }

// NewWeChatAPI wraps a WeChat client.
func NewWeChatAPI(c *Client) *WeChatAPI { return &WeChatAPI{c: c} }

// Text is a text body.
type Text struct {
	Content string `json:"content"`
}

// Media is a body that refers to uploaded media.
type Media struct {
	MediaID string `json:"media_id"`
}

// Link is a mini-program link card (PROTOCOLS.md §2 "Send").
type Link struct {
	Title       string `json:"title"`
	Description string `json:"description"`
	URL         string `json:"url"`
	ThumbURL    string `json:"thumb_url"`
}

// MiniProgramPage is a mini-program card.
type MiniProgramPage struct {
	Title        string `json:"title"`
	AppID        string `json:"appid,omitempty"` // official accounts only
	PagePath     string `json:"pagepath"`
	ThumbMediaID string `json:"thumb_media_id"`
}

// CustomMessage is a customer-service message: POST
// /cgi-bin/message/custom/send (PROTOCOLS.md §1.5, §2). Set MsgType and the
// matching body.
type CustomMessage struct {
	ToUser          string           `json:"touser"`
	MsgType         string           `json:"msgtype"`
	Text            *Text            `json:"text,omitempty"`
	Image           *Media           `json:"image,omitempty"`
	Voice           *Media           `json:"voice,omitempty"`
	Link            *Link            `json:"link,omitempty"`
	MiniProgramPage *MiniProgramPage `json:"miniprogrampage,omitempty"`
}

// CustomText returns a text customer-service message.
func CustomText(toUser, content string) CustomMessage {
	return CustomMessage{ToUser: toUser, MsgType: "text", Text: &Text{Content: content}}
}

// SendCustom sends a customer-service message. It fails with IsWindowClosed
// (45015) outside the 48-hour window and IsQuotaExceeded (45047) when the
// messages allowed per customer message are used up.
func (w *WeChatAPI) SendCustom(ctx context.Context, msg CustomMessage) error {
	if msg.ToUser == "" || msg.MsgType == "" {
		return fmt.Errorf("sending wechat custom message: %w: touser and msgtype are required", ErrBadRequest)
	}
	if err := w.c.Do(ctx, Request{Path: "/cgi-bin/message/custom/send", Body: msg}, nil); err != nil {
		return fmt.Errorf("sending wechat custom message: %w", err)
	}
	return nil
}

// SetTyping shows or hides the typing indicator: POST
// /cgi-bin/message/custom/typing {touser, command: Typing|CancelTyping}.
func (w *WeChatAPI) SetTyping(ctx context.Context, toUser string, typing bool) error {
	command := "CancelTyping"
	if typing {
		command = "Typing"
	}
	body := map[string]string{"touser": toUser, "command": command}
	if err := w.c.Do(ctx, Request{Path: "/cgi-bin/message/custom/typing", Body: body}, nil); err != nil {
		return fmt.Errorf("setting wechat typing indicator: %w", err)
	}
	return nil
}

// TemplateValue is one template field.
type TemplateValue struct {
	Value string `json:"value"`
	Color string `json:"color,omitempty"`
}

// TemplateMiniProgram makes a template message open a mini-program page.
type TemplateMiniProgram struct {
	AppID    string `json:"appid"`
	PagePath string `json:"pagepath,omitempty"`
}

// TemplateMessage is an official-account template message: POST
// /cgi-bin/message/template/send. It is not bound to the 48-hour window.
type TemplateMessage struct {
	ToUser      string                   `json:"touser"`
	TemplateID  string                   `json:"template_id"`
	URL         string                   `json:"url,omitempty"`
	MiniProgram *TemplateMiniProgram     `json:"miniprogram,omitempty"`
	Data        map[string]TemplateValue `json:"data"`
	ClientMsgID string                   `json:"client_msg_id,omitempty"`
}

// SendTemplate sends a template message and returns its msgid.
func (w *WeChatAPI) SendTemplate(ctx context.Context, msg TemplateMessage) (int64, error) {
	var out struct {
		MsgID int64 `json:"msgid"`
	}
	if err := w.c.Do(ctx, Request{Path: "/cgi-bin/message/template/send", Body: msg}, &out); err != nil {
		return 0, fmt.Errorf("sending wechat template message: %w", err)
	}
	return out.MsgID, nil
}

// SubscribeValue is one subscribe-message field.
type SubscribeValue struct {
	Value string `json:"value"`
}

// SubscribeMessage is a mini-program subscribe message: POST
// /cgi-bin/message/subscribe/send.
type SubscribeMessage struct {
	ToUser           string                    `json:"touser"`
	TemplateID       string                    `json:"template_id"`
	Page             string                    `json:"page,omitempty"`
	MiniProgramState string                    `json:"miniprogram_state,omitempty"` // developer | trial | formal
	Lang             string                    `json:"lang,omitempty"`
	Data             map[string]SubscribeValue `json:"data"`
}

// SendSubscribe sends a subscribe message.
func (w *WeChatAPI) SendSubscribe(ctx context.Context, msg SubscribeMessage) error {
	if err := w.c.Do(ctx, Request{Path: "/cgi-bin/message/subscribe/send", Body: msg}, nil); err != nil {
		return fmt.Errorf("sending wechat subscribe message: %w", err)
	}
	return nil
}
