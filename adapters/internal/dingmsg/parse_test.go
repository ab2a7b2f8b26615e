package dingmsg

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
	"github.com/kefu-gateway/kefu/adapters/message"
)

var src = normalize.Source{Channel: "dingtalk", Account: "corp"}

const (
	bot     = "$:LWCP_v1:$bot0000000000000000000000"
	webhook = "https://oapi.dingtalk.com/robot/sendBySession?session=abc123"
)

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func single(id string, kind message.Kind, msgType string) message.Message {
	return message.Message{
		ID: id, Channel: "dingtalk", Account: "corp", ConversationID: "dingtalk:corp:manager4220",
		From: message.Party{ID: "manager4220", Role: message.RoleCustomer}, To: message.Party{ID: bot, Role: message.RoleBot},
		Kind: kind, Timestamp: time.UnixMilli(1700000000000).UTC(),
		Reply: message.ReplyContext{Token: webhook, TokenExpires: time.UnixMilli(1700005400231).UTC()},
		Meta: map[string]string{"msg_type": msgType, "conversation_type": "1", "conversation_id": "cidsingle0000000000000000000==",
			"sender_id": "$:LWCP_v1:$sender000000000000000000", "robot_code": "dingrobot000000001", "chatbot_user_id": bot},
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		file string
		want func() message.Message
	}{
		{"text_single.json", func() message.Message {
			m := single("msgsingle0000000000000001==", message.KindText, "text")
			m.Text, m.From.Name = "怎么退货", "张三"
			m.Meta["sender_corp_id"] = "dingcorp0000000001"
			return m
		}},
		{"text_group.json", func() message.Message {
			return message.Message{
				ID: "msggroup00000000000000001==", Channel: "dingtalk", Account: "corp", ConversationID: "dingtalk:corp:cidgroup00000000000000000000==",
				From: message.Party{ID: "lisi01", Name: "李四", Role: message.RoleCustomer}, To: message.Party{ID: bot, Role: message.RoleBot},
				Kind: message.KindText, Text: "发票怎么开", Timestamp: time.UnixMilli(1700000000000).UTC(),
				Reply: message.ReplyContext{Token: "https://oapi.dingtalk.com/robot/sendBySession?session=grp456", TokenExpires: time.UnixMilli(1700005400231).UTC()},
				Meta: map[string]string{"msg_type": "text", "conversation_type": "2", "conversation_id": "cidgroup00000000000000000000==",
					"conversation_title": "售后群", "sender_id": "$:LWCP_v1:$sender000000000000000001", "sender_corp_id": "dingcorp0000000001",
					"robot_code": "dingrobot000000001", "chatbot_user_id": bot, "is_admin": "true"},
			}
		}},
		{"audio.json", func() message.Message {
			m := single("msgaudio000000000000000001==", message.KindVoice, "audio")
			m.Text, m.From.Name = "我的快递到哪了", "张三"
			m.Attachments = []message.Attachment{{Kind: message.KindVoice, MediaID: "dl-audio-1"}}
			m.Meta["download_code"] = "dl-audio-1"
			return m
		}},
		{"picture.json", func() message.Message {
			m := single("msgpic00000000000000000001==", message.KindImage, "picture")
			m.Attachments = []message.Attachment{{Kind: message.KindImage, MediaID: "dl-pic-1"}}
			m.Meta["download_code"] = "dl-pic-1"
			return m
		}},
		{"richtext.json", func() message.Message {
			m := single("msgrich0000000000000000001==", message.KindText, "richText")
			m.Text = "这个商品能换货吗"
			m.Attachments = []message.Attachment{{Kind: message.KindImage, MediaID: "dl-rich-1"}}
			return m
		}},
		{"unknown.json", func() message.Message {
			m := single("msgcard0000000000000000001==", message.KindUnsupported, "interactiveCardCallback")
			delete(m.Meta, "sender_id")
			return m
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			body := readFile(t, tt.file)
			got, err := Parse(src, body)
			if err != nil {
				t.Fatalf("Parse = %v", err)
			}
			if !bytes.Equal(got.Raw, body) {
				t.Error("Raw is not the body")
			}
			got.Raw = nil
			if want := tt.want(); !reflect.DeepEqual(got, want) {
				t.Errorf("message mismatch\n got %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestParseExternalSenderFallsBackToSenderID(t *testing.T) {
	m, err := Parse(src, readFile(t, "external_sender.json"))
	if err != nil {
		t.Fatal(err)
	}
	if m.From.ID != "$:LWCP_v1:$external0000000000000000" || m.Text != "hi" || m.ConversationID != "dingtalk:corp:cidgroup00000000000000000000==" {
		t.Fatalf("message = %+v", m)
	}
}

func TestParseRejectsMalformed(t *testing.T) {
	valid := string(readFile(t, "text_single.json"))
	tests := []struct {
		name, body string
		want       error
	}{
		{"empty", "", ErrMalformed},
		{"not json", "<xml/>", ErrMalformed},
		{"no msgId", strings.Replace(valid, `"msgId":"msgsingle0000000000000001=="`, `"msgId":""`, 1), ErrMissingField},
		{"no sender", strings.NewReplacer(`"senderStaffId":"manager4220"`, `"senderStaffId":""`, `"senderId":"$:LWCP_v1:$sender000000000000000000"`, `"senderId":""`).Replace(valid), ErrMissingField},
		{"no text", strings.Replace(valid, `"text":{"content":"怎么退货"},`, "", 1), ErrMissingField},
		{"bad conversation type", strings.Replace(valid, `"conversationType":"1"`, `"conversationType":"3"`, 1), ErrMalformed},
		{"bad createAt", strings.Replace(valid, `"createAt":1700000000000`, `"createAt":"soon"`, 1), ErrMalformed},
		{"bad content", strings.Replace(valid, `"msgtype":"text"`, `"msgtype":"picture","content":{"downloadCode":7}`, 1), ErrMalformed},
		{"huge id", strings.Replace(valid, "msgsingle0000000000000001==", strings.Repeat("m", 600), 1), ErrMalformed},
		{"too large", `{"a":"` + strings.Repeat("x", MaxBodyLen) + `"}`, ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Parse(src, []byte(tt.body)); !errors.Is(err, tt.want) {
				t.Fatalf("Parse = %v, want %v", err, tt.want)
			}
		})
	}
}
