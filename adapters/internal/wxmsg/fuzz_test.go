package wxmsg

import (
	"os"
	"path/filepath"
	"testing"
	"unicode/utf8"

	"github.com/kefu-gateway/kefu/adapters/internal/wxcrypto"
	"github.com/kefu-gateway/kefu/adapters/message"
)

func addTestdataSeeds(f *testing.F, pattern string) {
	files, _ := filepath.Glob(filepath.Join("testdata", pattern))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// checkParsed holds for every payload a parser accepts.
func checkParsed(t *testing.T, m message.Message) {
	if m.ID == "" || m.From.ID == "" || m.Kind == "" || m.ConversationID == "" {
		t.Fatalf("accepted message lacks id, sender, kind or conversation: %+v", m)
	}
	if m.Kind == message.KindEvent && m.Event == nil {
		t.Fatalf("event message without Event: %+v", m)
	}
}

// FuzzParseOA feeds arbitrary XML to the official-account, WeCom and kf
// callback parsers: they must never panic, and what they accept is complete.
func FuzzParseOA(f *testing.F) {
	addTestdataSeeds(f, "oa/*.xml")
	addTestdataSeeds(f, "wecom/*.xml")
	addTestdataSeeds(f, "kf/*.xml")
	f.Add([]byte("<xml><FromUserName>o</FromUserName><MsgType>event</MsgType><Event>x</Event><CreateTime> 12 </CreateTime></xml>"))
	f.Fuzz(func(t *testing.T, payload []byte) {
		if m, err := ParseOA(oaSrc, payload); err == nil {
			checkParsed(t, m)
		}
		if m, err := ParseWeComApp(wecomSrc, payload); err == nil {
			checkParsed(t, m)
		}
		_, _ = ParseKFCallback(payload)
	})
}

// FuzzParseMPJSON feeds arbitrary JSON to the mini-program parser.
func FuzzParseMPJSON(f *testing.F) {
	addTestdataSeeds(f, "mp/*.json")
	f.Add([]byte(`{"FromUserName":"o","MsgType":"text","MsgId":1e99,"CreateTime":"7"}`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		if m, err := ParseMP(mpSrc, payload, wxcrypto.FormatJSON); err == nil {
			checkParsed(t, m)
		}
	})
}

// FuzzParseKFSync feeds arbitrary sync_msg responses: never a panic, every
// returned message has an id and a customer, and nothing is silently lost.
func FuzzParseKFSync(f *testing.F) {
	addTestdataSeeds(f, "kf/*.json")
	f.Add([]byte(`{"errcode":0,"msg_list":[{"msgid":"a","origin":3,"msgtype":"text","open_kfid":"k","external_userid":"u"}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		page, err := ParseKFSync(kfSrc, body)
		if err != nil {
			return
		}
		for _, m := range page.Messages {
			checkParsed(t, m)
			if m.Meta[MetaOpenKfID] == "" {
				t.Fatalf("kf message without open_kfid: %+v", m)
			}
		}
	})
}

// FuzzReplyText checks that any text renders to well-formed XML that carries
// the text back (minus characters XML cannot hold).
func FuzzReplyText(f *testing.F) {
	f.Add("hello", "o1", "gh_1")
	f.Add("]]>]]]>", "o<1>", "gh&1")
	f.Fuzz(func(t *testing.T, content, to, from string) {
		if !utf8.ValidString(to) || !utf8.ValidString(from) {
			return
		}
		out := RenderTextReply(to, from, timeZero, content)
		m, err := ParseOA(oaSrc, append([]byte(nil), out...))
		// The reply leaves out what XML cannot hold, so an id made only of
		// such characters arrives empty; the parser rightly refuses that.
		if sender := appendXMLChars(nil, from); len(sender) == 0 || len(to) > maxIDLen || len(from) > maxIDLen {
			return
		}
		if err != nil {
			t.Fatalf("rendered reply does not parse: %v\n%s", err, out)
		}
		want := string(appendXMLChars(nil, content))
		if m.Text != want && m.Text != normalizeNewlines(want) {
			t.Fatalf("content %q came back as %q", want, m.Text)
		}
	})
}

// FuzzFlatXMLAgreesWithEncodingXML holds the fast decoder to encoding/xml:
// whatever it accepts, encoding/xml accepts too and decodes the same.
func FuzzFlatXMLAgreesWithEncodingXML(f *testing.F) {
	addTestdataSeeds(f, "oa/*.xml")
	addTestdataSeeds(f, "wecom/*.xml")
	addTestdataSeeds(f, "kf/*.xml")
	addTestdataSeeds(f, "mp/*.xml")
	for _, s := range flatXMLCases {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		checkFlatAgrees(t, payload)
	})
}
