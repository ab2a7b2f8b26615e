package wxmsg

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/kefu-gateway/kefu/adapters/internal/normalize"
	"github.com/kefu-gateway/kefu/adapters/internal/wxcrypto"
	"github.com/kefu-gateway/kefu/adapters/message"
)

var (
	oaSrc    = normalize.Source{Channel: "wechat_oa", Account: "shop"}
	mpSrc    = normalize.Source{Channel: "wechat_mp", Account: "mini"}
	wecomSrc = normalize.Source{Channel: "wecom_app", Account: "staff"}
	kfSrc    = normalize.Source{Channel: "wecom_kf", Account: "kf"}
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func ts(sec int64) time.Time { return time.Unix(sec, 0).UTC() }

// want builds the expected message for oaSrc-like sources.
func want(src normalize.Source, id, from, to string, sec int64, kind message.Kind, meta map[string]string) message.Message {
	return message.Message{
		ID: id, Channel: src.Channel, Account: src.Account, ConversationID: src.ConversationID(from),
		From: message.Party{ID: from, Role: message.RoleCustomer}, To: message.Party{ID: to, Role: message.RoleBot},
		Kind: kind, Timestamp: ts(sec), Meta: meta,
	}
}

func with(m message.Message, f func(*message.Message)) message.Message { f(&m); return m }

func checkMessage(t *testing.T, got message.Message, payload []byte, exp message.Message) {
	t.Helper()
	if !bytes.Equal(got.Raw, payload) {
		t.Errorf("Raw is not the payload")
	}
	got.Raw = nil
	if !reflect.DeepEqual(got, exp) {
		t.Errorf("message mismatch\n got %+v\nwant %+v", got, exp)
	}
}

func TestParseOA(t *testing.T) {
	const gh = "gh_3a5b7c9d1e2f"
	tests := []struct {
		file string
		want message.Message
	}{
		{"text.xml", with(want(oaSrc, "23987654321098765", "oUser-TEXT-0001", gh, 1700000000, message.KindText, map[string]string{"msg_type": "text"}),
			func(m *message.Message) { m.Text = "你好，请问退货怎么办？" })},
		{"text_unionid.xml", with(want(oaSrc, "23987654321098766", "oUser-TEXT-0002", gh, 1700000001, message.KindText, map[string]string{"msg_type": "text"}),
			func(m *message.Message) { m.Text = `a < b & "c" ]]> d`; m.From.UnionID = "uUnion-42" })},
		{"image.xml", with(want(oaSrc, "23987654321098767", "oUser-IMG", gh, 1700000010, message.KindImage, map[string]string{"msg_type": "image"}),
			func(m *message.Message) {
				m.Attachments = []message.Attachment{{Kind: message.KindImage, URL: "http://mmbiz.qpic.cn/example.jpg", MediaID: "media_img_1"}}
			})},
		{"voice_recognition.xml", with(want(oaSrc, "23987654321098768", "oUser-VOICE", gh, 1700000020, message.KindVoice, map[string]string{"msg_type": "voice"}),
			func(m *message.Message) {
				m.Text = "我的订单到哪了"
				m.Attachments = []message.Attachment{{Kind: message.KindVoice, MediaID: "media_voice_1", Format: "amr"}}
			})},
		{"voice.xml", with(want(oaSrc, "23987654321098769", "oUser-VOICE", gh, 1700000021, message.KindVoice, map[string]string{"msg_type": "voice"}),
			func(m *message.Message) {
				m.Attachments = []message.Attachment{{Kind: message.KindVoice, MediaID: "media_voice_2", Format: "speex"}}
			})},
		{"video.xml", with(want(oaSrc, "23987654321098770", "oUser-VIDEO", gh, 1700000030, message.KindVideo, map[string]string{"msg_type": "video", "thumb_media_id": "thumb_1"}),
			func(m *message.Message) {
				m.Attachments = []message.Attachment{{Kind: message.KindVideo, MediaID: "media_video_1"}}
			})},
		{"shortvideo.xml", with(want(oaSrc, "23987654321098771", "oUser-VIDEO", gh, 1700000031, message.KindVideo, map[string]string{"msg_type": "shortvideo", "thumb_media_id": "thumb_2"}),
			func(m *message.Message) {
				m.Attachments = []message.Attachment{{Kind: message.KindVideo, MediaID: "media_sv_1"}}
			})},
		{"location.xml", with(want(oaSrc, "23987654321098772", "oUser-LOC", gh, 1700000040, message.KindLocation, map[string]string{"msg_type": "location"}),
			func(m *message.Message) {
				m.Attachments = []message.Attachment{{Kind: message.KindLocation, Latitude: 23.134521, Longitude: 113.358803, Label: "广州市天河区"}}
			})},
		{"link.xml", with(want(oaSrc, "23987654321098773", "oUser-LINK", gh, 1700000050, message.KindLink, map[string]string{"msg_type": "link"}),
			func(m *message.Message) {
				m.Attachments = []message.Attachment{{Kind: message.KindLink, Title: "订单截图说明", Description: "请看这个", URL: "https://example.com/a?b=1&c=2"}}
			})},
		{"subscribe_qrscene.xml", with(want(oaSrc, "oUser-SUB-1700000060-subscribe", "oUser-SUB", gh, 1700000060, message.KindEvent, map[string]string{"msg_type": "event", "event": "subscribe", "ticket": "TICKET-ABC"}),
			func(m *message.Message) { m.Event = &message.Event{Type: message.EventSubscribe, Key: "store-17"} })},
		{"subscribe.xml", with(want(oaSrc, "oUser-SUB-1700000061-subscribe", "oUser-SUB", gh, 1700000061, message.KindEvent, map[string]string{"msg_type": "event", "event": "subscribe"}),
			func(m *message.Message) { m.Event = &message.Event{Type: message.EventSubscribe} })},
		{"unsubscribe.xml", with(want(oaSrc, "oUser-SUB-1700000062-unsubscribe", "oUser-SUB", gh, 1700000062, message.KindEvent, map[string]string{"msg_type": "event", "event": "unsubscribe"}),
			func(m *message.Message) { m.Event = &message.Event{Type: message.EventUnsubscribe} })},
		{"scan.xml", with(want(oaSrc, "oUser-SCAN-1700000070-scan", "oUser-SCAN", gh, 1700000070, message.KindEvent, map[string]string{"msg_type": "event", "event": "SCAN", "ticket": "TICKET-ABC"}),
			func(m *message.Message) { m.Event = &message.Event{Type: message.EventScan, Key: "store-17"} })},
		{"click.xml", with(want(oaSrc, "oUser-MENU-1700000080-click", "oUser-MENU", gh, 1700000080, message.KindEvent, map[string]string{"msg_type": "event", "event": "CLICK"}),
			func(m *message.Message) { m.Event = &message.Event{Type: message.EventClick, Key: "MENU_HUMAN"} })},
		{"view.xml", with(want(oaSrc, "oUser-MENU-1700000081-view", "oUser-MENU", gh, 1700000081, message.KindEvent, map[string]string{"msg_type": "event", "event": "VIEW"}),
			func(m *message.Message) {
				m.Event = &message.Event{Type: message.EventView, Key: "https://shop.example.com/orders"}
			})},
		{"location_event.xml", with(want(oaSrc, "oUser-LOC-1700000090-location", "oUser-LOC", gh, 1700000090, message.KindEvent, map[string]string{"msg_type": "event", "event": "LOCATION"}),
			func(m *message.Message) {
				m.Event = &message.Event{Type: "location"}
				m.Attachments = []message.Attachment{{Kind: message.KindLocation, Latitude: 23.137466, Longitude: 113.352425}}
			})},
		{"template_finish.xml", with(want(oaSrc, "200163836", "oUser-TPL", gh, 1700000100, message.KindEvent, map[string]string{"msg_type": "event", "event": "TEMPLATESENDJOBFINISH"}),
			func(m *message.Message) { m.Event = &message.Event{Type: "templatesendjobfinish"} })},
		{"unknown_type.xml", want(oaSrc, "23987654321098774", "oUser-ODD", gh, 1700000110, message.KindUnsupported, map[string]string{"msg_type": "hologram"})},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			payload := readTestdata(t, "oa/"+tt.file)
			got, err := ParseOA(oaSrc, payload)
			if err != nil {
				t.Fatalf("ParseOA = %v", err)
			}
			checkMessage(t, got, payload, tt.want)
		})
	}
}

func TestParseMP(t *testing.T) {
	const gh = "gh_mini0000001"
	text := with(want(mpSrc, "1234567890123456", "oMini-User-1", gh, 1700000200, message.KindText, map[string]string{"msg_type": "text"}),
		func(m *message.Message) { m.Text = "this is a test" })
	page := func(id string) message.Message {
		return with(want(mpSrc, id, "oMini-User-1", gh, 1700000220, message.KindMiniProgram,
			map[string]string{"msg_type": "miniprogrampage", "app_id": "wxmini0000000001", "thumb_url": "https://mmbiz.qpic.cn/thumb.jpg"}),
			func(m *message.Message) {
				m.Attachments = []message.Attachment{{Kind: message.KindMiniProgram, Title: "商品详情", URL: "pages/item?id=9", MediaID: "thumb_mp_1"}}
			})
	}
	enter := with(want(mpSrc, "oMini-User-2-1700000230-enter_session", "oMini-User-2", gh, 1700000230, message.KindEvent,
		map[string]string{"msg_type": "event", "event": "user_enter_tempsession"}),
		func(m *message.Message) {
			m.Event = &message.Event{Type: message.EventEnterSession, Key: "order-page:9"}
		})

	tests := []struct {
		file   string
		format wxcrypto.Format
		want   message.Message
	}{
		{"text.xml", wxcrypto.FormatXML, text},
		// A 64-bit MsgId in JSON keeps every digit (float64 would round it).
		{"text.json", wxcrypto.FormatJSON, with(text, func(m *message.Message) { m.ID = "9223372036854775806" })},
		{"image.json", wxcrypto.FormatJSON, with(want(mpSrc, "1234567890123457", "oMini-User-1", gh, 1700000210, message.KindImage, map[string]string{"msg_type": "image"}),
			func(m *message.Message) {
				m.Attachments = []message.Attachment{{Kind: message.KindImage, URL: "https://mmbiz.qpic.cn/mini.jpg", MediaID: "media_mp_img"}}
			})},
		{"miniprogrampage.json", wxcrypto.FormatJSON, page("1234567890123458")},
		{"miniprogrampage.xml", wxcrypto.FormatXML, page("1234567890123458")},
		{"enter_session.json", wxcrypto.FormatJSON, enter},
		{"enter_session.xml", wxcrypto.FormatXML, enter},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			payload := readTestdata(t, "mp/"+tt.file)
			got, err := ParseMP(mpSrc, payload, tt.format)
			if err != nil {
				t.Fatalf("ParseMP = %v", err)
			}
			checkMessage(t, got, payload, tt.want)
		})
	}
}

func TestParseWeComApp(t *testing.T) {
	const corp = "ww0123456789abcdef"
	tests := []struct {
		file string
		want message.Message
	}{
		// The plaintext of Tencent's published WeCom sample (PROTOCOLS.md §0).
		{"text.xml", with(want(wecomSrc, "4561255354251345929", "mycreate", "wx5823bf96d3bd56c7", 1409659813, message.KindText, map[string]string{"msg_type": "text", "agent_id": "218"}),
			func(m *message.Message) { m.Text = "hello" })},
		{"image.xml", with(want(wecomSrc, "7000000000000000001", "zhangsan", corp, 1700000300, message.KindImage, map[string]string{"msg_type": "image", "agent_id": "1000002"}),
			func(m *message.Message) {
				m.Attachments = []message.Attachment{{Kind: message.KindImage, URL: "https://wework.qpic.cn/pic.jpg", MediaID: "media_wc_img"}}
			})},
		{"voice.xml", with(want(wecomSrc, "7000000000000000002", "zhangsan", corp, 1700000310, message.KindVoice, map[string]string{"msg_type": "voice", "agent_id": "1000002"}),
			func(m *message.Message) {
				m.Attachments = []message.Attachment{{Kind: message.KindVoice, MediaID: "media_wc_voice", Format: "amr"}}
			})},
		{"enter_agent.xml", with(want(wecomSrc, "zhangsan-1700000320-enter_session", "zhangsan", corp, 1700000320, message.KindEvent, map[string]string{"msg_type": "event", "event": "enter_agent", "agent_id": "1000002"}),
			func(m *message.Message) { m.Event = &message.Event{Type: message.EventEnterSession} })},
		{"click.xml", with(want(wecomSrc, "lisi-1700000330-click", "lisi", corp, 1700000330, message.KindEvent, map[string]string{"msg_type": "event", "event": "click", "agent_id": "1000002"}),
			func(m *message.Message) { m.Event = &message.Event{Type: message.EventClick, Key: "#accept"} })},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			payload := readTestdata(t, "wecom/"+tt.file)
			got, err := ParseWeComApp(wecomSrc, payload)
			if err != nil {
				t.Fatalf("ParseWeComApp = %v", err)
			}
			checkMessage(t, got, payload, tt.want)
		})
	}
}

func TestParsersRejectMalformed(t *testing.T) {
	tests := []struct {
		name    string
		payload string
		format  wxcrypto.Format
		want    error
	}{
		{"empty", "", wxcrypto.FormatXML, ErrMalformed},
		{"blank", "  \n", wxcrypto.FormatXML, ErrMalformed},
		{"not xml", "hello", wxcrypto.FormatXML, ErrMalformed},
		{"truncated xml", "<xml><FromUserName>o1</FromUserName><MsgType>text", wxcrypto.FormatXML, ErrMalformed},
		{"bad CreateTime", "<xml><FromUserName>o1</FromUserName><MsgType>text</MsgType><CreateTime>soon</CreateTime></xml>", wxcrypto.FormatXML, ErrMalformed},
		{"no sender", "<xml><MsgType>text</MsgType><Content>x</Content></xml>", wxcrypto.FormatXML, ErrMissingField},
		{"no type", "<xml><FromUserName>o1</FromUserName></xml>", wxcrypto.FormatXML, ErrMissingField},
		{"event without name", "<xml><FromUserName>o1</FromUserName><MsgType>event</MsgType></xml>", wxcrypto.FormatXML, ErrMissingField},
		{"huge id", "<xml><FromUserName>" + strings.Repeat("o", 300) + "</FromUserName><MsgType>text</MsgType></xml>", wxcrypto.FormatXML, ErrMalformed},
		{"too large", "<xml><Content>" + strings.Repeat("x", MaxPayloadLen) + "</Content></xml>", wxcrypto.FormatXML, ErrTooLarge},
		{"json array", "[1,2]", wxcrypto.FormatJSON, ErrMalformed},
		{"json bad MsgId", `{"FromUserName":"o1","MsgType":"text","MsgId":{}}`, wxcrypto.FormatJSON, ErrMalformed},
		{"json bad CreateTime", `{"FromUserName":"o1","MsgType":"text","CreateTime":"x"}`, wxcrypto.FormatJSON, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseMP(mpSrc, []byte(tt.payload), tt.format)
			if !errors.Is(err, tt.want) {
				t.Fatalf("ParseMP = %v, want %v", err, tt.want)
			}
			if tt.format == wxcrypto.FormatXML {
				if _, err := ParseOA(oaSrc, []byte(tt.payload)); !errors.Is(err, tt.want) {
					t.Fatalf("ParseOA = %v, want %v", err, tt.want)
				}
				if _, err := ParseWeComApp(wecomSrc, []byte(tt.payload)); !errors.Is(err, tt.want) {
					t.Fatalf("ParseWeComApp = %v, want %v", err, tt.want)
				}
			}
		})
	}
}

func TestEventIDIsStableAcrossRetries(t *testing.T) {
	payload := readTestdata(t, "oa/click.xml")
	a, _ := ParseOA(oaSrc, payload)
	b, _ := ParseOA(oaSrc, append([]byte(nil), payload...))
	if a.ID == "" || a.ID != b.ID {
		t.Fatalf("event ids %q and %q differ for the same push", a.ID, b.ID)
	}
	other, _ := ParseOA(oaSrc, readTestdata(t, "oa/view.xml"))
	if other.ID == a.ID {
		t.Fatal("two different events share an id")
	}
}
