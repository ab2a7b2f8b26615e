package wxmsg

import (
	"errors"
	"strings"
	"testing"

	"github.com/kefu-gateway/kefu/adapters/message"
)

func TestParseKFCallback(t *testing.T) {
	cb, err := ParseKFCallback(readTestdata(t, "kf/callback.xml"))
	if err != nil {
		t.Fatal(err)
	}
	exp := KFCallback{CorpID: "ww0123456789abcdef", CreateTime: ts(1700000400), Event: KFEventMsgOrEvent,
		Token: "ENCApHxnGDNAVNY4AaSJKj4Tb5mwsEMzxhFmHVGcra996NR", OpenKfID: "wkAJ2GCAAASSm4_FhToWMFea0xAFfd3Q"}
	if cb != exp || !cb.IsMsgOrEvent() {
		t.Fatalf("ParseKFCallback = %+v, want %+v", cb, exp)
	}

	for _, tt := range []struct {
		name, payload string
		want          error
	}{
		{"no event", "<xml><ToUserName>ww1</ToUserName><MsgType>event</MsgType></xml>", ErrMissingField},
		{"no token", "<xml><MsgType>event</MsgType><Event>kf_msg_or_event</Event></xml>", ErrMissingField},
		{"garbage", "<xml", ErrMalformed},
		{"huge token", "<xml><Event>kf_msg_or_event</Event><Token>" + strings.Repeat("T", 300) + "</Token></xml>", ErrMalformed},
	} {
		if _, err := ParseKFCallback([]byte(tt.payload)); !errors.Is(err, tt.want) {
			t.Errorf("%s: ParseKFCallback = %v, want %v", tt.name, err, tt.want)
		}
	}
	// Other callback events are returned, not refused, so the caller can ignore them.
	other, err := ParseKFCallback([]byte("<xml><ToUserName>ww1</ToUserName><MsgType>event</MsgType><Event>kf_account_auth_change</Event></xml>"))
	if err != nil || other.IsMsgOrEvent() {
		t.Fatalf("other event = %+v, %v", other, err)
	}
}

func TestParseKFSync(t *testing.T) {
	const (
		kfID = "wkAJ2GCAAASSm4_FhToWMFea0xAFfd3Q"
		user = "wmAJ2GCAAAme1XQRC-NI-q0_ZM9ukoAw"
	)
	page, err := ParseKFSync(kfSrc, readTestdata(t, "kf/sync_page.json"))
	if err != nil {
		t.Fatal(err)
	}
	if page.NextCursor != "4gw7MepFLfgF2VC5npN" || !page.HasMore {
		t.Fatalf("cursor %q has_more %v", page.NextCursor, page.HasMore)
	}
	base := func(id, from string, sec int64, kind message.Kind, msgType string) message.Message {
		return message.Message{
			ID: id, Channel: "wecom_kf", Account: "kf", ConversationID: "wecom_kf:kf:" + kfID + "/" + from,
			From: message.Party{ID: from, Role: message.RoleCustomer}, To: message.Party{ID: kfID, Role: message.RoleBot},
			Kind: kind, Timestamp: ts(sec), Meta: map[string]string{"msg_type": msgType, "open_kfid": kfID},
		}
	}
	exp := []message.Message{
		with(base("from_customer_text_1", user, 1700000500, message.KindText, "text"), func(m *message.Message) { m.Text = "我要退款" }),
		with(base("from_customer_menu_1", user, 1700000501, message.KindText, "text"), func(m *message.Message) { m.Text = "查询订单"; m.Meta["menu_id"] = "101" }),
		with(base("from_customer_image_1", user, 1700000502, message.KindImage, "image"), func(m *message.Message) {
			m.Attachments = []message.Attachment{{Kind: message.KindImage, MediaID: "2iSLeVyqzk4eX0IB5kTi9Ljfa2rt9dwfq5WKRQ4Nvvgw"}}
		}),
		with(base("from_customer_location_1", user, 1700000503, message.KindLocation, "location"), func(m *message.Message) {
			m.Attachments = []message.Attachment{{Kind: message.KindLocation, Latitude: 23.106021881103516, Longitude: 113.32020568847656, Label: "广州国际媒体港(广州市海珠区)", Description: "广东省广州市海珠区滨江东路"}}
		}),
		base("from_customer_channels_1", user, 1700000504, message.KindUnsupported, "channels"),
		with(base("event_enter_1", "wmAJ2GCAAAnew000000000000000000", 1700000505, message.KindEvent, "event"), func(m *message.Message) {
			m.Event = &message.Event{Type: message.EventEnterSession, Key: "campaign=spring"}
			m.Meta["event"] = "enter_session"
			m.Meta["scene"] = "123"
			m.Reply = message.ReplyContext{Token: "aaaaaa", TokenExpires: ts(1700000525)}
		}),
	}
	if len(page.Messages) != len(exp) {
		t.Fatalf("%d messages, want %d: %+v", len(page.Messages), len(exp), page.Messages)
	}
	for i := range exp {
		if len(page.Messages[i].Raw) == 0 || !strings.Contains(string(page.Messages[i].Raw), exp[i].ID) {
			t.Errorf("message %d: Raw is not its item: %s", i, page.Messages[i].Raw)
		}
		checkMessage(t, page.Messages[i], page.Messages[i].Raw, exp[i])
	}

	// Servicer messages, other events and undecodable items are reported apart.
	if len(page.Others) != 4 {
		t.Fatalf("%d other items, want 4: %+v", len(page.Others), page.Others)
	}
	change, fail, servicer, bad := page.Others[0], page.Others[1], page.Others[2], page.Others[3]
	if change.Origin != KFOriginSystem || change.Event == nil || change.Event.EventType != "session_status_change" ||
		change.Event.ChangeType != 1 || change.Event.NewServicerUserID != "zhangsan" || change.Event.MsgCode != "MSG_CODE_1" ||
		change.OpenKfID != kfID || change.ExternalUserID != user {
		t.Errorf("session_status_change item = %+v (event %+v)", change, change.Event)
	}
	if fail.Event == nil || fail.Event.EventType != "msg_send_fail" || fail.Event.FailMsgID != "bot_reply_1" || fail.Event.FailType != 4 {
		t.Errorf("msg_send_fail item = %+v", fail)
	}
	if servicer.Origin != KFOriginServicer || servicer.ServicerUserID != "zhangsan" || servicer.MsgID != "from_servicer_1" || servicer.Err != nil {
		t.Errorf("servicer item = %+v", servicer)
	}
	if bad.Err == nil || !errors.Is(bad.Err, ErrMalformed) || len(bad.Raw) == 0 {
		t.Errorf("undecodable item = %+v", bad)
	}
}

func TestParseKFSyncErrors(t *testing.T) {
	for _, tt := range []struct {
		name, body string
		want       error
	}{
		{"not json", "<xml/>", ErrMalformed},
		{"errcode", `{"errcode":95000,"errmsg":"invalid open_kfid"}`, ErrMalformed},
		{"msg_list not a list", `{"errcode":0,"msg_list":{}}`, ErrMalformed},
		{"too large", `{"x":"` + strings.Repeat("a", MaxKFSyncLen) + `"}`, ErrTooLarge},
	} {
		if _, err := ParseKFSync(kfSrc, []byte(tt.body)); !errors.Is(err, tt.want) {
			t.Errorf("%s: ParseKFSync = %v, want %v", tt.name, err, tt.want)
		}
	}
	page, err := ParseKFSync(kfSrc, []byte(`{"errcode":0,"next_cursor":"c2","has_more":1,"msg_list":[]}`))
	if err != nil || !page.HasMore || page.NextCursor != "c2" || len(page.Messages) != 0 {
		t.Fatalf("empty page with has_more = %+v, %v", page, err)
	}
}
