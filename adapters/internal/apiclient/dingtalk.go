package apiclient

import (
	"context"
	"encoding/json"
	"fmt"
)

// DingTalkAPI calls the DingTalk robot endpoints kefu uses.
type DingTalkAPI struct{ c *Client }

// NewDingTalkAPI wraps a DingTalk client.
func NewDingTalkAPI(c *Client) *DingTalkAPI { return &DingTalkAPI{c: c} }

// RobotMessage is an OpenAPI robot message: a template key and its parameters
// (sent as a JSON string in msgParam).
type RobotMessage struct {
	Key   string
	Param any
}

// RobotText returns a "sampleText" robot message.
func RobotText(content string) RobotMessage {
	return RobotMessage{Key: "sampleText", Param: map[string]string{"content": content}}
}

// RobotMarkdown returns a "sampleMarkdown" robot message.
func RobotMarkdown(title, text string) RobotMessage {
	return RobotMessage{Key: "sampleMarkdown", Param: map[string]string{"title": title, "text": text}}
}

func (m RobotMessage) param() (string, error) {
	b, err := json.Marshal(m.Param)
	if err != nil {
		return "", fmt.Errorf("%w: encoding msgParam: %v", ErrBadRequest, err)
	}
	return string(b), nil
}

// BatchSendResult is the answer of a 1:1 batch send.
type BatchSendResult struct {
	ProcessQueryKey           string   `json:"processQueryKey"`
	InvalidStaffIDList        []string `json:"invalidStaffIdList"`
	FlowControlledStaffIDList []string `json:"flowControlledStaffIdList"`
}

// SendToUsers sends a robot message to users in 1:1 chats: POST
// /v1.0/robot/oToMessages/batchSend {robotCode, userIds, msgKey, msgParam}.
// This is the path once a message's sessionWebhook has expired (PROTOCOLS.md §4.1).
func (d *DingTalkAPI) SendToUsers(ctx context.Context, robotCode string, userIDs []string, msg RobotMessage) (BatchSendResult, error) {
	param, err := msg.param()
	if err != nil {
		return BatchSendResult{}, fmt.Errorf("sending dingtalk robot message: %w", err)
	}
	if robotCode == "" || len(userIDs) == 0 {
		return BatchSendResult{}, fmt.Errorf("sending dingtalk robot message: %w: robotCode and userIds are required", ErrBadRequest)
	}
	body := map[string]any{"robotCode": robotCode, "userIds": userIDs, "msgKey": msg.Key, "msgParam": param}
	var out BatchSendResult
	if err := d.c.Do(ctx, Request{Path: "/v1.0/robot/oToMessages/batchSend", Body: body}, &out); err != nil {
		return BatchSendResult{}, fmt.Errorf("sending dingtalk robot message: %w", err)
	}
	return out, nil
}

// SendToGroup sends a robot message to a group: POST
// /v1.0/robot/groupMessages/send {robotCode, openConversationId, msgKey, msgParam}.
func (d *DingTalkAPI) SendToGroup(ctx context.Context, robotCode, openConversationID string, msg RobotMessage) (string, error) {
	param, err := msg.param()
	if err != nil {
		return "", fmt.Errorf("sending dingtalk group message: %w", err)
	}
	if robotCode == "" || openConversationID == "" {
		return "", fmt.Errorf("sending dingtalk group message: %w: robotCode and openConversationId are required", ErrBadRequest)
	}
	body := map[string]any{"robotCode": robotCode, "openConversationId": openConversationID, "msgKey": msg.Key, "msgParam": param}
	var out struct {
		ProcessQueryKey string `json:"processQueryKey"`
	}
	if err := d.c.Do(ctx, Request{Path: "/v1.0/robot/groupMessages/send", Body: body}, &out); err != nil {
		return "", fmt.Errorf("sending dingtalk group message: %w", err)
	}
	return out.ProcessQueryKey, nil
}

// WebhookMessage is a reply through a sessionWebhook: text or markdown
// (PROTOCOLS.md §4.1).
type WebhookMessage struct {
	MsgType  string           `json:"msgtype"`
	Text     *Text            `json:"text,omitempty"`
	Markdown *WebhookMarkdown `json:"markdown,omitempty"`
}

// WebhookMarkdown is a markdown body.
type WebhookMarkdown struct {
	Title string `json:"title"`
	Text  string `json:"text"`
}

// WebhookText returns a text webhook reply.
func WebhookText(content string) WebhookMessage {
	return WebhookMessage{MsgType: "text", Text: &Text{Content: content}}
}

// WebhookMarkdownMessage returns a markdown webhook reply.
func WebhookMarkdownMessage(title, text string) WebhookMessage {
	return WebhookMessage{MsgType: "markdown", Markdown: &WebhookMarkdown{Title: title, Text: text}}
}

// ReplySession posts a reply to a message's sessionWebhook (Reply.Token). No
// access token is needed; the account's api_base still applies. Check
// Reply.TokenExpires first: after it, use SendToUsers or SendToGroup.
func (d *DingTalkAPI) ReplySession(ctx context.Context, sessionWebhook string, msg WebhookMessage) error {
	if sessionWebhook == "" {
		return fmt.Errorf("replying via dingtalk session webhook: %w: no webhook", ErrBadRequest)
	}
	if err := d.c.Do(ctx, Request{API: "robot/sendBySession", URL: sessionWebhook, Body: msg, NoToken: true}, nil); err != nil {
		return fmt.Errorf("replying via dingtalk session webhook: %w", err)
	}
	return nil
}
