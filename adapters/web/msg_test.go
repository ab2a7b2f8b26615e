package web

import (
	"reflect"
	"testing"
	"time"

	"github.com/kefu-gateway/kefu/adapters/message"
)

// Every kind and sender the web API knows turns into its Msg; a visitor's
// own message carries the client id back and never a display name.
func TestToMsg(t *testing.T) {
	at := time.Date(2026, 3, 7, 3, 0, 0, 0, time.UTC)
	card := &message.Card{Title: "订单 100001", URL: "https://shop.example.com/o/100001"}
	for _, tc := range []struct {
		name string
		in   message.Message
		want Msg
	}{
		{"visitor text", message.Message{ID: "1-0", Kind: message.KindText, Text: "你好", Timestamp: at,
			From: message.Party{Role: message.RoleCustomer, Name: "访客"}, Meta: map[string]string{"client_id": "w1"}},
			Msg{ID: "1-0", Type: "text", Text: "你好", From: "visitor", TS: "2026-03-07T03:00:00Z", ClientID: "w1"}},
		{"bot text with choices", message.Message{ID: "2-0", Kind: message.KindText, Text: "请选择", Timestamp: at,
			From: message.Party{Role: message.RoleBot, Name: "小店"}, Choices: []message.Choice{{Title: "查订单"}},
			Meta: map[string]string{"stream_id": "s1"}},
			Msg{ID: "2-0", Type: "text", Text: "请选择", From: "bot", Name: "小店", TS: "2026-03-07T03:00:00Z",
				Choices: []message.Choice{{Title: "查订单"}}, StreamID: "s1"}},
		{"agent image", message.Message{ID: "3-0", Kind: message.KindImage, Timestamp: at,
			From:        message.Party{Role: message.RoleAgent, Name: "Alice"},
			Attachments: []message.Attachment{{Kind: message.KindImage, MediaID: "m"}, {Kind: message.KindImage, URL: "https://x/p.png"}}},
			Msg{ID: "3-0", Type: "image", From: "agent", Name: "Alice", TS: "2026-03-07T03:00:00Z", URL: "https://x/p.png"}},
		{"bot card", message.Message{ID: "4-0", Kind: message.KindCard, Timestamp: at, From: message.Party{Role: message.RoleBot}, Card: card},
			Msg{ID: "4-0", Type: "card", From: "bot", TS: "2026-03-07T03:00:00Z", Card: card}},
		{"system event", message.Message{ID: "5-0", Kind: message.KindEvent, Timestamp: at, From: message.Party{Role: message.RoleSystem},
			Event: &message.Event{Type: "handoff"}},
			Msg{ID: "5-0", Type: "event", From: "system", TS: "2026-03-07T03:00:00Z", Event: "handoff"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := toMsg(&tc.in); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("toMsg = %+v\nwant   %+v", got, tc.want)
			}
		})
	}
	// A visitor's own event (the session start) is internal.
	shown := toMsgs([]message.Message{
		{ID: "1-0", Kind: message.KindEvent, From: message.Party{Role: message.RoleCustomer}, Event: &message.Event{Type: "session_start"}},
		{ID: "2-0", Kind: message.KindText, Text: "hi", From: message.Party{Role: message.RoleCustomer}},
	})
	if len(shown) != 1 || shown[0].ID != "2-0" {
		t.Fatalf("toMsgs showed %+v, want only the text", shown)
	}
}

// TestParseWait covers ?wait= of GET /messages. Values too large for a
// Duration once made a negative wait, which answered at once.
func TestParseWait(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		bad  bool
	}{
		{in: "", want: 0},
		{in: "0", want: 0},
		{in: "1.5", want: 1500 * time.Millisecond},
		{in: "30", want: maxWait},
		{in: "3600", want: maxWait},
		{in: "1e300", want: maxWait},
		{in: "1e400", want: maxWait},
		{in: "Inf", want: maxWait},
		{in: "-1", bad: true},
		{in: "-Inf", bad: true},
		{in: "NaN", bad: true},
		{in: "soon", bad: true},
	} {
		got, err := parseWait(tc.in)
		if (err != nil) != tc.bad || got != tc.want {
			t.Errorf("parseWait(%q) = %v, %v; want %v, refused %v", tc.in, got, err, tc.want, tc.bad)
		}
	}
}
