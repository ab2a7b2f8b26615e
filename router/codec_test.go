package router

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/kefu-gateway/kefu/adapters/message"
	"github.com/kefu-gateway/kefu/flows"
)

// codecConversations are states as turns leave them: idle, inside a form
// with slots of every JSON kind, waiting on a timer and an HTTP step, with
// components' state, and with text that JSON escapes.
func codecConversations(text string) []*Conversation {
	at := time.Date(2026, 11, 25, 9, 30, 15, 123456789, time.FixedZone("CST", 8*3600))
	return []*Conversation{
		{},
		{ID: "wechat_oa:bench:o1", Channel: "wechat_oa", Account: "bench",
			Customer: message.Party{ID: "o1", UnionID: "u1", Name: text, Role: message.RoleCustomer},
			Started:  at, LastInbound: at.Add(time.Minute), Turns: 3},
		{ID: "web:site:v1", Channel: "web", Account: "site", Misses: 2, LLMTokens: 1234,
			Flow: flows.State{Flow: "order", Stack: []flows.Frame{{Flow: "menu", At: "main/2", Digression: false},
				{Flow: "order", At: "ask_phone", Waiting: true, Attempts: 1, Digression: true}},
				Slots: map[string]any{"phone": text, "count": 3.0, "vip": true, "none": nil,
					"items": []any{"a", 1.5, map[string]any{"k": text}}, "addr": map[string]any{"city": "上海"}},
				Offered: []message.Choice{{Title: text, Payload: "1"}, {Title: "人工"}},
				Timer:   "t-9", TimerAt: at.Add(time.Hour), WaitSince: at, Deadline: at.Add(2 * time.Hour), Reminded: 1,
				PendingHTTP: "h-3", LastHTTP: &flows.HTTPOutcome{Status: 502, Error: text}, Seq: 42},
			Ext: map[string]json.RawMessage{"handoff": json.RawMessage(`{"queue":"vip","since":1764000000}`),
				"rating": json.RawMessage(`[1,2,"三"]`)},
			Started: at.UTC(), LastInbound: at},
	}
}

// codecMessages are transcript entries: an inbound text, an event, a
// reply with choices and a card, attachments, reply context and meta.
func codecMessages(text string) []*message.Message {
	at := time.Date(2026, 11, 25, 9, 30, 15, 0, time.UTC)
	return []*message.Message{
		{},
		{ID: "24680", Channel: "wechat_oa", Account: "bench", ConversationID: "wechat_oa:bench:o1",
			From: message.Party{ID: "o1", Role: message.RoleCustomer}, To: message.Party{ID: "gh_1"},
			Kind: message.KindText, Text: text, Timestamp: at,
			Reply: message.ReplyContext{PassiveDeadline: at.Add(4 * time.Second)}},
		{Channel: "wecom_kf", Account: "kf", ConversationID: "wecom_kf:kf:wm1", From: message.Party{ID: "wm1"},
			Kind: message.KindEvent, Event: &message.Event{Type: message.EventEnterSession, Key: text},
			Meta: map[string]string{"open_kfid": "wk1", "note": text}, Timestamp: at,
			Reply: message.ReplyContext{Token: "welcome", TokenExpires: at.Add(20 * time.Second)}},
		{Channel: "web", Account: "site", ConversationID: "web:site:v1", From: message.Party{Role: message.RoleBot},
			Kind: message.KindText, Text: text, Markdown: true, Timestamp: at,
			Choices: []message.Choice{{Title: "查订单", Payload: "order"}, {Title: text}},
			Card:    &message.Card{Title: text, Description: "d", URL: "https://example.com/?a=1&b=<2>", PicURL: "p"}},
		{Channel: "wechat_mp", Account: "mp", Kind: message.KindImage, Timestamp: at,
			Attachments: []message.Attachment{{Kind: message.KindImage, URL: "https://x/y.png", MediaID: "m1"},
				{Kind: message.KindLocation, Latitude: 31.2304, Longitude: 121.4737, Label: text, Title: "t"}}},
	}
}

// codecTexts are strings JSON encoders treat specially.
var codecTexts = []string{
	"你好", "您好！我是小店的智能客服 😀", `<script>alert("x&y")</script>`, "line\nbreak\ttab\\slash\"quote",
	"\u2028\u2029", "\x00\x1f\x7f", "bad utf-8 \xff\xfe end", "\xed\xa0\x80 surrogate", "",
}

// TestCodecWritesWhatEncodingJSONWrites is why the router may use the
// faster codec: a state or entry it writes is byte for byte what
// encoding/json writes, and each reads back what the other wrote.
func TestCodecWritesWhatEncodingJSONWrites(t *testing.T) {
	for _, text := range codecTexts {
		for i, c := range codecConversations(text) {
			checkCodec(t, "conversation", i, text, c, func() any { return &Conversation{} })
		}
		for i, m := range codecMessages(text) {
			checkCodec(t, "message", i, text, m, func() any { return &message.Message{} })
		}
	}
}

func checkCodec(t *testing.T, kind string, i int, text string, v any, fresh func() any) {
	t.Helper()
	want, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("%s %d (%q): encoding/json: %v", kind, i, text, err)
	}
	got, err := encodeJSON(v)
	if err != nil {
		t.Fatalf("%s %d (%q): encodeJSON: %v", kind, i, text, err)
	}
	if string(got) != string(want) {
		t.Errorf("%s %d (%q) encodes differently:\n got %s\nwant %s", kind, i, text, got, want)
	}
	std, ours := fresh(), fresh()
	if err := json.Unmarshal(want, std); err != nil {
		t.Fatalf("%s %d: encoding/json cannot read its own output: %v", kind, i, err)
	}
	if err := decodeJSON(want, ours); err != nil {
		t.Fatalf("%s %d (%q): decodeJSON: %v", kind, i, text, err)
	}
	if !reflect.DeepEqual(ours, std) {
		t.Errorf("%s %d (%q) decodes differently:\n got %#v\nwant %#v", kind, i, text, ours, std)
	}
}

// FuzzStateCodec checks the codec against encoding/json on any text in
// the states and entries, and on any stored bytes: both accept or both
// refuse them, and what both accept reads the same.
func FuzzStateCodec(f *testing.F) {
	for _, s := range codecTexts {
		f.Add(s, []byte(`{"id":"`+s+`","flow":{"slots":{"a":[1,"b",{"c":null}]}}}`))
	}
	f.Add("", []byte(`{"turns":1e2,"misses":-0,"ext":{"a":{}}}`))
	f.Add("", []byte(`{"ID":"x","FLOW":{"Slots":{"k":1}},"id":"y","Turns":"2","ext":null,"unknown":[1]}`))
	f.Add("", []byte(`{"kind":"text","TEXT":"a","text":"b","ts":"bad","from":{"Role":"bot"}}`))
	f.Add("", []byte(`{"started":"2026-11-25T09:30:15+08:00","flow":{"stack":[{"flow":"a","waiting":true}]}}`))
	f.Fuzz(func(t *testing.T, text string, raw []byte) {
		for i, c := range codecConversations(text) {
			checkCodec(t, "conversation", i, text, c, func() any { return &Conversation{} })
		}
		for i, m := range codecMessages(text) {
			checkCodec(t, "message", i, text, m, func() any { return &message.Message{} })
		}
		for _, fresh := range []func() any{func() any { return &Conversation{} }, func() any { return &message.Message{} }} {
			std, ours := fresh(), fresh()
			errStd, errOurs := json.Unmarshal(raw, std), decodeJSON(raw, ours)
			if (errStd == nil) != (errOurs == nil) {
				t.Fatalf("%q: encoding/json says %v, decodeJSON says %v", raw, errStd, errOurs)
			}
			if errStd == nil && !reflect.DeepEqual(ours, std) {
				t.Fatalf("%q decodes differently:\n got %#v\nwant %#v", raw, ours, std)
			}
		}
	})
}

// BenchmarkCodec is the codec against encoding/json on what a returning
// customer's turn encodes and decodes: the conversation state and a reply
// entry (the demo's greeting with its menu).
//
//	go test -run '^$' -bench Codec ./router
func BenchmarkCodec(b *testing.B) {
	greeting := "您好！我是小店的智能客服，可以帮您查订单、办退货、解答常见问题。\n1. 查订单\n2. 申请退货\n3. 营业时间"
	at := time.Date(2026, 11, 25, 9, 30, 15, 0, time.UTC)
	values := map[string]func() any{
		"state": func() any {
			return &Conversation{ID: "wechat_oa:bench:o1", Channel: "wechat_oa", Account: "bench",
				Customer: message.Party{ID: "o1", Role: message.RoleCustomer}, Started: at, LastInbound: at, Turns: 12,
				Flow: flows.State{Offered: []message.Choice{{Title: "查订单", Payload: "查订单"}, {Title: "申请退货", Payload: "申请退货"},
					{Title: "营业时间", Payload: "营业时间"}}}}
		},
		"entry": func() any {
			return &message.Message{Channel: "wechat_oa", Account: "bench", ConversationID: "wechat_oa:bench:o1",
				From: message.Party{Name: "智能客服", Role: message.RoleBot}, To: message.Party{ID: "o1", Role: message.RoleCustomer},
				Kind: message.KindText, Text: greeting, Timestamp: at, Meta: map[string]string{"msg_type": "text"}}
		},
	}
	codecs := []struct {
		name   string
		encode func(any) ([]byte, error)
		decode func([]byte, any) error
	}{
		{"encoding_json", json.Marshal, json.Unmarshal},
		{"codec", encodeJSON, decodeJSON},
	}
	for _, what := range []string{"state", "entry"} {
		v := values[what]()
		raw, err := json.Marshal(v)
		if err != nil {
			b.Fatal(err)
		}
		for _, c := range codecs {
			b.Run(what+"/encode/"+c.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := c.encode(v); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run(what+"/decode/"+c.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if err := c.decode(raw, values[what]()); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
