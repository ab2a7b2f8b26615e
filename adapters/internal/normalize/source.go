// Package normalize holds the small pieces every inbound parser shares when it
// turns a platform payload into a message.Message: where the message came
// from, how a conversation is keyed, and how an event without a platform id
// gets a stable dedup id.
package normalize

import (
	"strconv"
	"strings"
)

// Source says which configured account a payload arrived for. Parsers copy
// it into Message.Channel and Message.Account and derive ConversationID from
// it, so they stay pure functions of (Source, payload).
type Source struct {
	// Channel is the adapter kind: "wechat_oa", "wechat_mp", "wecom_app",
	// "wecom_kf", "dingtalk".
	Channel string
	// Account is the configured account id ({id} in the callback path).
	Account string
}

// ConversationID returns the conversation key for a peer of this account:
// "channel:account:peer". The peer is the customer (an OpenID, a WeCom
// UserID, "open_kfid/external_userid" for 微信客服) or a group chat id.
// The key is stable across processes and restarts.
func (s Source) ConversationID(peer string) string {
	var b strings.Builder
	b.Grow(len(s.Channel) + len(s.Account) + len(peer) + 2)
	b.WriteString(s.Channel)
	b.WriteByte(':')
	b.WriteString(s.Account)
	b.WriteByte(':')
	b.WriteString(peer)
	return b.String()
}

// EventID derives the dedup id of a push that carries no message id, such as
// a WeChat event: sender, CreateTime and event name, joined by '-'. WeChat
// documents FromUserName + CreateTime as the dedup key for events; the event
// name is added so two different events in the same second do not collide
// (PROTOCOLS.md §1.2). Retries of one push repeat all three values, so they
// map to the same id.
func EventID(sender string, createTime int64, event string) string {
	return sender + "-" + strconv.FormatInt(createTime, 10) + "-" + event
}
