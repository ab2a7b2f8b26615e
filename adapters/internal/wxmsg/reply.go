package wxmsg

import (
	"bytes"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/kefu-gateway/kefu/adapters/message"
)

// Success is the body that acknowledges a push without a passive reply: WeChat
// then neither retries nor shows "该公众号暂时无法提供服务" (PROTOCOLS.md §1.2). An
// empty body (0 bytes) works too; an XML with empty Content does not.
const Success = "success"

// RenderTextReply renders a passive text reply (PROTOCOLS.md §1.3):
//
//	<xml><ToUserName><![CDATA[to]]></ToUserName><FromUserName><![CDATA[from]]></FromUserName>
//	<CreateTime>…</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[…]]></Content></xml>
//
// to is the customer (the inbound FromUserName) and from the account (the
// inbound ToUserName: the OA original id gh_…, or the CorpID for a WeCom
// app). Text is written CDATA-safe: "]]>" is split across two sections and
// characters XML 1.0 forbids are dropped. The caller keeps Content within
// the platform's 2048-byte limit (message.SplitText).
func RenderTextReply(to, from string, createTime time.Time, content string) []byte {
	b := make([]byte, 0, 200+len(to)+len(from)+len(content))
	b = append(b, "<xml><ToUserName>"...)
	b = appendCDATA(b, to)
	b = append(b, "</ToUserName><FromUserName>"...)
	b = appendCDATA(b, from)
	b = append(b, "</FromUserName><CreateTime>"...)
	b = strconv.AppendInt(b, createTime.Unix(), 10)
	b = append(b, "</CreateTime><MsgType><![CDATA[text]]></MsgType><Content>"...)
	b = appendCDATA(b, content)
	b = append(b, "</Content></xml>"...)
	return b
}

// ReplyText renders a passive text reply to the inbound message in: From and
// To are swapped.
func ReplyText(in *message.Message, content string, now time.Time) []byte {
	return RenderTextReply(in.From.ID, in.To.ID, now, content)
}

// appendCDATA appends s as one or more CDATA sections. The characters XML
// cannot hold go first, and only then is every "]]>" split across two
// sections: dropping a character can join one up ("]]\x05>" becomes "]]>").
func appendCDATA(b []byte, s string) []byte {
	b = append(b, "<![CDATA["...)
	start := len(b)
	b = appendXMLChars(b, s)
	if bytes.Contains(b[start:], cdataClose) {
		// End the section after "]]" and start a new one with ">".
		b = append(b[:start], strings.ReplaceAll(string(b[start:]), "]]>", "]]]]><![CDATA[>")...)
	}
	return append(b, "]]>"...)
}

// appendXMLChars appends s without the characters XML 1.0 does not allow
// (control characters other than tab, newline and carriage return, invalid
// UTF-8, U+FFFE and U+FFFF); WeChat would reject the whole reply otherwise.
func appendXMLChars(b []byte, s string) []byte {
	clean := true
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if !isXMLChar(r, size) {
			clean = false
			break
		}
		i += size
	}
	if clean {
		return append(b, s...)
	}
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if isXMLChar(r, size) {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return b
}

func isXMLChar(r rune, size int) bool {
	if r == utf8.RuneError && size <= 1 {
		return false
	}
	return r == '\t' || r == '\n' || r == '\r' ||
		(r >= 0x20 && r <= 0xD7FF) || (r >= 0xE000 && r <= 0xFFFD) || (r >= 0x10000 && r <= 0x10FFFF)
}
