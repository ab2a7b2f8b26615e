package wechatoa_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/kefu-gateway/kefu/adapters"
	"github.com/kefu-gateway/kefu/adapters/message"
)

// Every kind of push in testdata/push is verified, normalized, recorded and
// answered: texts and recognized voice by the flows, events by their
// flows (or not at all), anything kefu cannot read with a polite request
// to type — in plain and safe mode alike.
func TestInboundKinds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file   string
		reply  string // passive reply; "" = success
		check  func(t *testing.T, m message.Message)
		window int // remaining quota after the push (-1 = closed)
	}{
		{"text.xml", answerHello, func(t *testing.T, m message.Message) {
			if m.Kind != message.KindText || m.Text != "你好" || m.Timestamp.Unix() != 1714036504 {
				t.Errorf("text normalized to %+v", m)
			}
		}, 5},
		{"image.xml", unsupported, func(t *testing.T, m message.Message) {
			if m.Kind != message.KindImage || len(m.Attachments) != 1 || m.Attachments[0].MediaID != "media_image_001" || m.Attachments[0].URL == "" {
				t.Errorf("image normalized to %+v", m)
			}
		}, 5},
		{"voice_recognized.xml", answerHello, func(t *testing.T, m message.Message) {
			if m.Kind != message.KindVoice || m.Text != "你好" || m.Attachments[0].Format != "amr" {
				t.Errorf("recognized voice normalized to %+v", m)
			}
		}, 5},
		{"voice.xml", unsupported, func(t *testing.T, m message.Message) {
			if m.Kind != message.KindVoice || m.Text != "" {
				t.Errorf("voice normalized to %+v", m)
			}
		}, 5},
		{"video.xml", unsupported, func(t *testing.T, m message.Message) {
			if m.Kind != message.KindVideo || m.Attachments[0].MediaID != "media_video_001" {
				t.Errorf("video normalized to %+v", m)
			}
		}, 5},
		{"location.xml", unsupported, func(t *testing.T, m message.Message) {
			if m.Kind != message.KindLocation || m.Attachments[0].Label != "上海市黄浦区人民广场" || m.Attachments[0].Latitude != 31.230416 {
				t.Errorf("location normalized to %+v", m)
			}
		}, 5},
		{"link.xml", unsupported, func(t *testing.T, m message.Message) {
			if m.Kind != message.KindLink || m.Attachments[0].URL != "https://shop.example.com/orders/100001" {
				t.Errorf("link normalized to %+v", m)
			}
		}, 5},
		{"event_subscribe.xml", answerSubscribe, func(t *testing.T, m message.Message) {
			if m.Kind != message.KindEvent || m.Event.Type != message.EventSubscribe || m.Event.Key != "" {
				t.Errorf("subscribe normalized to %+v", m)
			}
		}, 3},
		{"event_subscribe_qrscene.xml", answerPoster, func(t *testing.T, m message.Message) {
			if m.Event == nil || m.Event.Type != message.EventSubscribe || m.Event.Key != "poster2024" {
				t.Errorf("QR subscribe normalized to %+v", m)
			}
		}, 3},
		{"event_scan.xml", answerScan, func(t *testing.T, m message.Message) {
			if m.Event == nil || m.Event.Type != message.EventScan || m.Event.Key != "store42" {
				t.Errorf("scan normalized to %+v", m)
			}
		}, 3},
		{"event_click.xml", answerHelp, func(t *testing.T, m message.Message) {
			if m.Event == nil || m.Event.Type != message.EventClick || m.Event.Key != "MENU_HELP" {
				t.Errorf("click normalized to %+v", m)
			}
		}, 3},
		{"event_view.xml", "", func(t *testing.T, m message.Message) {
			if m.Event == nil || m.Event.Type != message.EventView || m.Event.Key != "https://shop.example.com/" {
				t.Errorf("view normalized to %+v", m)
			}
		}, -1},
		{"event_unsubscribe.xml", "", func(t *testing.T, m message.Message) {
			if m.Event == nil || m.Event.Type != message.EventUnsubscribe {
				t.Errorf("unsubscribe normalized to %+v", m)
			}
		}, -1},
	}
	for _, mode := range []string{"plain", "safe"} {
		t.Run(mode, func(t *testing.T) {
			h := newHarness(t, mode, "")
			h.flowsDir = testFlows(t, "http://127.0.0.1:1/unused")
			srv := h.Start(t, nil)
			a, _ := srv.App.Adapters.Lookup(h.Kind(), account)
			wc := a.(adapters.WindowChecker)
			for _, tt := range tests {
				t.Run(tt.file, func(t *testing.T) {
					status, reply := h.say(t, srv, readFile(t, "push/"+tt.file))
					if status != http.StatusOK || reply != tt.reply {
						t.Fatalf("answered %d %q, want 200 %q", status, reply, tt.reply)
					}
					var in message.Message
					eventually(t, 5*time.Second, "the push in the transcript", func() bool {
						var probe struct{ FromUserName string }
						_ = xmlUnmarshal(readFile(t, "push/"+tt.file), &probe)
						ms := transcript(t, srv, "wechat_oa:shop:"+probe.FromUserName)
						if len(ms) == 0 {
							return false
						}
						in = ms[0]
						return true
					})
					if in.Channel != "wechat_oa" || in.Account != account || in.From.Role != message.RoleCustomer || in.To.ID != ghID {
						t.Errorf("message routing fields: %+v", in)
					}
					tt.check(t, in)
					if in.Kind != message.KindEvent {
						// Messages are deduplicated on their MsgId.
						var probe struct{ MsgId string }
						_ = xmlUnmarshal(readFile(t, "push/"+tt.file), &probe)
						if srv.DB.Client.Exists(context.Background(), srv.App.Store.Keys.Dedup(h.Kind(), account, probe.MsgId)).Val() != 1 {
							t.Errorf("no dedup mark for MsgId %s", probe.MsgId)
						}
					}
					w, err := wc.Window(context.Background(), in.From)
					if err != nil {
						t.Fatal(err)
					}
					if tt.window < 0 && w.Open || tt.window >= 0 && (!w.Open || w.Remaining != tt.window) {
						t.Errorf("window after %s = %+v, want remaining %d", tt.file, w, tt.window)
					}
				})
			}
		})
	}
}

// A follow, then an unfollow: the unfollow closes the window the follow
// opened (PROTOCOLS.md §1.6: 45015 also means "subscription is canceled").
func TestUnsubscribeClosesWindow(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "plain", "")
	h.flowsDir = testFlows(t, "http://127.0.0.1:1/unused")
	srv := h.Start(t, nil)
	a, _ := srv.App.Adapters.Lookup(h.Kind(), account)
	at := time.Now()
	if _, reply := h.say(t, srv, oaEvent("oUserLeaving", "subscribe", "", at)); reply != answerSubscribe {
		t.Fatalf("subscribe answered %q", reply)
	}
	party := message.Party{ID: "oUserLeaving"}
	if w, _ := a.(adapters.WindowChecker).Window(context.Background(), party); !w.Open || w.Remaining != 3 {
		t.Fatalf("window after subscribe = %+v, want 3 messages", w)
	}
	h.say(t, srv, oaEvent("oUserLeaving", "unsubscribe", "", at.Add(time.Second)))
	if w, _ := a.(adapters.WindowChecker).Window(context.Background(), party); w.Open {
		t.Fatalf("window after unsubscribe = %+v, want closed", w)
	}
}

// UnionID, when the platform sends one, is recorded on the conversation's
// customer (and the message's sender).
func TestUnionIDRecorded(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "safe", "")
	h.flowsDir = testFlows(t, "http://127.0.0.1:1/unused")
	srv := h.Start(t, nil)
	if _, reply := h.say(t, srv, readFile(t, "push/text_unionid.xml")); reply != answerHello {
		t.Fatalf("reply %q", reply)
	}
	conv := "wechat_oa:shop:oUserUnion000000000000000001"
	eventually(t, 5*time.Second, "the conversation state", func() bool {
		return srv.DB.Client.HGet(context.Background(), srv.App.Store.Keys.Conversation(conv), "d").Val() != ""
	})
	var state struct {
		Customer message.Party `json:"customer"`
	}
	if err := json.Unmarshal([]byte(srv.DB.Client.HGet(context.Background(), srv.App.Store.Keys.Conversation(conv), "d").Val()), &state); err != nil {
		t.Fatal(err)
	}
	if state.Customer.UnionID != "uUnionKefu0000000000000001" {
		t.Fatalf("conversation customer = %+v, want the UnionID recorded", state.Customer)
	}
	if ms := transcript(t, srv, conv); len(ms) == 0 || ms[0].From.UnionID != "uUnionKefu0000000000000001" {
		t.Fatalf("transcript sender = %+v", ms)
	}
}

// Event retries (same sender, CreateTime and event) are answered once; two
// different events in the same second are both answered (PROTOCOLS.md §1.2).
func TestEventDedup(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "plain", "")
	h.flowsDir = testFlows(t, "http://127.0.0.1:1/unused")
	srv := h.Start(t, nil)
	at := time.Now()
	var replies []string
	for i := 0; i < 3; i++ {
		_, r := h.say(t, srv, oaEvent("oUserEvents", "subscribe", "", at))
		replies = append(replies, r)
	}
	_, click := h.say(t, srv, oaEvent("oUserEvents", "CLICK", "MENU_HELP", at))
	if replies[0] != answerSubscribe || replies[1] != "" || replies[2] != "" || click != answerHelp {
		t.Fatalf("subscribe ×3 then click answered %q then %q", replies, click)
	}
}
