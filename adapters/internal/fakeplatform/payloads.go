package fakeplatform

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// cdata wraps s in a CDATA section, splitting any "]]>".
func cdata(s string) string {
	return "<![CDATA[" + strings.ReplaceAll(s, "]]>", "]]]]><![CDATA[>") + "]]>"
}

// OAText is an official-account text message from the customer from to the
// account to (its gh_ original id), as the platform pushes it.
func OAText(from, to, content string, msgID int64, at time.Time) []byte {
	return []byte("<xml><ToUserName>" + cdata(to) + "</ToUserName><FromUserName>" + cdata(from) +
		"</FromUserName><CreateTime>" + strconv.FormatInt(at.Unix(), 10) + "</CreateTime><MsgType><![CDATA[text]]></MsgType><Content>" +
		cdata(content) + "</Content><MsgId>" + strconv.FormatInt(msgID, 10) + "</MsgId></xml>")
}

// OAEvent is an official-account event push (subscribe, unsubscribe, SCAN,
// CLICK, VIEW ...); eventKey may be empty.
func OAEvent(from, to, event, eventKey string, at time.Time) []byte {
	key := ""
	if eventKey != "" {
		key = "<EventKey>" + cdata(eventKey) + "</EventKey>"
	}
	return []byte("<xml><ToUserName>" + cdata(to) + "</ToUserName><FromUserName>" + cdata(from) +
		"</FromUserName><CreateTime>" + strconv.FormatInt(at.Unix(), 10) + "</CreateTime><MsgType><![CDATA[event]]></MsgType><Event>" +
		cdata(event) + "</Event>" + key + "</xml>")
}

// MPTextJSON is a mini-program customer-service text push in JSON format.
func MPTextJSON(from, to, content string, msgID int64, at time.Time) []byte {
	b, _ := json.Marshal(map[string]any{"ToUserName": to, "FromUserName": from, "CreateTime": at.Unix(), "MsgType": "text", "Content": content, "MsgId": msgID})
	return b
}

// MPEnterSessionJSON is a mini-program user_enter_tempsession event in JSON.
func MPEnterSessionJSON(from, to, sessionFrom string, at time.Time) []byte {
	b, _ := json.Marshal(map[string]any{"ToUserName": to, "FromUserName": from, "CreateTime": at.Unix(), "MsgType": "event", "Event": "user_enter_tempsession", "SessionFrom": sessionFrom})
	return b
}

// WeComAppText is a WeCom self-built app text message from member userID.
func WeComAppText(corpID, userID string, agentID int64, content string, msgID int64, at time.Time) []byte {
	return []byte("<xml><ToUserName>" + cdata(corpID) + "</ToUserName><FromUserName>" + cdata(userID) +
		"</FromUserName><CreateTime>" + strconv.FormatInt(at.Unix(), 10) + "</CreateTime><MsgType><![CDATA[text]]></MsgType><Content>" +
		cdata(content) + "</Content><MsgId>" + strconv.FormatInt(msgID, 10) + "</MsgId><AgentID>" + strconv.FormatInt(agentID, 10) + "</AgentID></xml>")
}

// KFCallback is the decrypted 微信客服 kf_msg_or_event callback.
func KFCallback(corpID, token, openKfID string, at time.Time) []byte {
	return []byte("<xml><ToUserName>" + cdata(corpID) + "</ToUserName><CreateTime>" + strconv.FormatInt(at.Unix(), 10) +
		"</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[kf_msg_or_event]]></Event><Token>" + cdata(token) +
		"</Token><OpenKfId>" + cdata(openKfID) + "</OpenKfId></xml>")
}

// DingTalkMessage describes a robot callback to build.
type DingTalkMessage struct {
	MsgID             string
	Text              string
	ConversationType  string // "1" (default) or "2"
	ConversationID    string
	ConversationTitle string
	SenderStaffID     string
	SenderNick        string
	RobotCode         string
	// SessionWebhook and its expiry; DingTalk.TextCallbackBody fills them
	// with a live webhook on the fake when empty.
	SessionWebhook        string
	SessionWebhookExpires time.Time
	CreateAt              time.Time
}

// TextCallbackBody is the JSON body of a DingTalk text robot callback. The
// text gets the leading space DingTalk leaves after removing the @mention.
func (d *DingTalk) TextCallbackBody(m DingTalkMessage) []byte {
	if m.SessionWebhook == "" {
		m.SessionWebhook, m.SessionWebhookExpires = d.NewSessionWebhook()
	}
	if m.ConversationType == "" {
		m.ConversationType = "1"
	}
	if m.CreateAt.IsZero() {
		m.CreateAt = d.clock()
	}
	body := map[string]any{
		"msgtype": "text", "text": map[string]string{"content": " " + m.Text}, "msgId": m.MsgID,
		"createAt": m.CreateAt.UnixMilli(), "conversationType": m.ConversationType, "conversationId": m.ConversationID,
		"senderId": "$:LWCP_v1:$" + m.SenderStaffID, "senderStaffId": m.SenderStaffID, "senderNick": m.SenderNick,
		"chatbotUserId": "$:LWCP_v1:$fakebot", "robotCode": m.RobotCode,
		"sessionWebhook": m.SessionWebhook, "sessionWebhookExpiredTime": m.SessionWebhookExpires.UnixMilli(),
		"isInAtList": m.ConversationType == "2",
	}
	if m.ConversationTitle != "" {
		body["conversationTitle"] = m.ConversationTitle
	}
	b, _ := json.Marshal(body)
	return b
}
