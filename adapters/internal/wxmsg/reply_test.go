package wxmsg

import (
	"encoding/xml"
	"strings"
	"testing"
	"time"
)

func TestReplyText(t *testing.T) {
	in, err := ParseOA(oaSrc, readTestdata(t, "oa/text.xml"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, content, wantContent string }{
		{"plain", "签收后7天内可申请退货。", "签收后7天内可申请退货。"},
		{"cdata terminator", "a]]>b]]>", "a]]>b]]>"},
		{"markup", "<b>&amp;</b>", "<b>&amp;</b>"},
		{"control characters dropped", "a\x00b\x1bc\td\ne", "abc\td\ne"},
		{"invalid utf-8 dropped", "ok\xff\xfe!", "ok!"},
		{"terminator joined by a dropped character", "a]]\x05>b]]\xd0>", "a]]>b]]>"},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := ReplyText(&in, tt.content, time.Unix(1700000005, 0))
			var got struct {
				ToUserName, FromUserName, MsgType, Content string
				CreateTime                                 int64
			}
			if err := xml.Unmarshal(out, &got); err != nil {
				t.Fatalf("reply is not well-formed XML: %v\n%s", err, out)
			}
			if got.ToUserName != "oUser-TEXT-0001" || got.FromUserName != "gh_3a5b7c9d1e2f" {
				t.Fatalf("From/To not swapped: %+v", got)
			}
			if got.MsgType != "text" || got.CreateTime != 1700000005 || got.Content != tt.wantContent {
				t.Fatalf("reply = %+v, want content %q", got, tt.wantContent)
			}
		})
	}
	exact := string(RenderTextReply("o1", "gh_1", time.Unix(12345678, 0), "hi"))
	const wantXML = "<xml><ToUserName><![CDATA[o1]]></ToUserName><FromUserName><![CDATA[gh_1]]></FromUserName><CreateTime>12345678</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[hi]]></Content></xml>"
	if exact != wantXML {
		t.Fatalf("RenderTextReply =\n%s\nwant\n%s", exact, wantXML)
	}
}

var timeZero = time.Unix(0, 0)

// normalizeNewlines applies XML end-of-line handling (CR LF and lone CR
// become LF), which any XML reader performs.
func normalizeNewlines(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.ReplaceAll(s, "\r", "\n")
}
