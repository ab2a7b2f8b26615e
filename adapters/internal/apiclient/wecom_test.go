package apiclient_test

import (
	"context"
	"testing"
	"time"

	"github.com/kefu-gateway/kefu/adapters/internal/apiclient"
	"github.com/kefu-gateway/kefu/adapters/internal/fakeplatform"
	"github.com/kefu-gateway/kefu/adapters/internal/normalize"
	"github.com/kefu-gateway/kefu/adapters/internal/wxmsg"
	"github.com/kefu-gateway/kefu/adapters/message"
)

const (
	corpID    = "wwfake0000000001"
	appSecret = "wecom-app-secret"
	kfSecret  = "wecom-kf-secret"
	kfID      = "wkFAKE0000000001"
)

func newWeCom(t *testing.T) (*fakeplatform.WeCom, *apiclient.WeComAPI, *apiclient.KFAPI) {
	fake := fakeplatform.NewWeCom(t)
	fake.AddSecret(corpID, appSecret)
	fake.AddSecret(corpID, kfSecret)
	app := apiclient.NewWeComAPI(newClient(t, apiclient.WeCom, fake.URL(), wecomTokens(t, fake.URL(), corpID, appSecret)))
	kf := apiclient.NewKFAPI(newClient(t, apiclient.WeCom, fake.URL(), wecomTokens(t, fake.URL(), corpID, kfSecret)))
	return fake, app, kf
}

func TestWeComAppSend(t *testing.T) {
	fake, app, _ := newWeCom(t)
	ctx := context.Background()
	res, err := app.SendApp(ctx, apiclient.AppText(1000002, "zhangsan|lisi", "有新的客户等待接入"))
	if err != nil || res.MsgID == "" || res.InvalidUser != "" {
		t.Fatalf("SendApp = %+v, %v", res, err)
	}
	call := fake.Calls("/cgi-bin/message/send")[0]
	if call.JSON["agentid"] != float64(1000002) || call.String("touser") != "zhangsan|lisi" || call.App != fakeplatform.WeComApp(corpID, appSecret) {
		t.Fatalf("recorded = %+v", call)
	}
	fake.SetInvalidUsers("lisi")
	res, err = app.SendApp(ctx, apiclient.AppText(1000002, "zhangsan|lisi", "x"))
	if err != nil || res.InvalidUser != "lisi" {
		t.Fatalf("partly invalid = %+v, %v", res, err)
	}
	_, err = app.SendApp(ctx, apiclient.AppText(1000002, "lisi", "x"))
	if pe, ok := apiclient.AsPlatformError(err); !ok || pe.Code != 81013 || !apiclient.IsPermanent(err) {
		t.Fatalf("all invalid = %v", err)
	}
}

// TestKFSecretHasItsOwnToken checks that app and 微信客服 calls use separate
// credentials and tokens (PROTOCOLS.md §3.3 "Use the 微信客服 secret's access_token").
func TestKFSecretHasItsOwnToken(t *testing.T) {
	fake, app, kf := newWeCom(t)
	ctx := context.Background()
	if _, err := app.SendApp(ctx, apiclient.AppText(1, "u", "x")); err != nil {
		t.Fatal(err)
	}
	if _, err := kf.ServiceState(ctx, kfID, "wmUser"); err != nil {
		t.Fatal(err)
	}
	if fake.TokenCalls(fakeplatform.WeComApp(corpID, appSecret)) != 1 || fake.TokenCalls(fakeplatform.WeComApp(corpID, kfSecret)) != 1 {
		t.Fatal("app and kf did not fetch one token each")
	}
	if got := fake.Calls("/cgi-bin/kf/service_state/get")[0].App; got != fakeplatform.WeComApp(corpID, kfSecret) {
		t.Fatalf("kf call made with %s's token", got)
	}
}

func TestKFSyncPaging(t *testing.T) {
	fake, _, kf := newWeCom(t)
	ctx := context.Background()
	src := normalize.Source{Channel: "wecom_kf", Account: "kf"}
	var want []string
	for i := 0; i < 7; i++ {
		want = append(want, fake.PushCustomerText(kfID, "wmUser", "msg"))
	}
	fake.PushServicerText(kfID, "wmUser", "zhangsan", "我来处理")
	fake.PushCustomerText("wkOTHER", "wmUser", "other kf account")
	fake.SetSyncPageSize(3)
	fake.InjectEmptyPages(1)

	var got []string
	cursor, pulls, others := "", 0, 0
	for {
		pulls++
		body, err := kf.SyncMsg(ctx, apiclient.SyncMsgRequest{Cursor: cursor, Token: fake.CallbackToken(), OpenKfID: kfID})
		if err != nil {
			t.Fatal(err)
		}
		page, err := wxmsg.ParseKFSync(src, body)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range page.Messages {
			if m.Kind != message.KindText || m.Meta[wxmsg.MetaOpenKfID] != kfID {
				t.Fatalf("unexpected message %+v", m)
			}
			got = append(got, m.ID)
		}
		others += len(page.Others)
		cursor = page.NextCursor
		if !page.HasMore {
			break
		}
		if pulls > 20 {
			t.Fatal("paging does not end")
		}
	}
	if len(got) != len(want) || got[0] != want[0] || got[6] != want[6] || others != 1 {
		t.Fatalf("pulled %v (others %d), want %v", got, others, want)
	}
	if pulls < 4 {
		t.Fatalf("%d pulls: the empty has_more page or the paging was skipped", pulls)
	}
	// Nothing new: the persisted cursor yields an empty, final page.
	body, err := kf.SyncMsg(ctx, apiclient.SyncMsgRequest{Cursor: cursor, OpenKfID: kfID})
	if err != nil {
		t.Fatal(err)
	}
	page, _ := wxmsg.ParseKFSync(src, body)
	if len(page.Messages) != 0 || page.HasMore {
		t.Fatalf("re-pull = %+v", page)
	}
}

func TestKFSendRules(t *testing.T) {
	fake, _, kf := newWeCom(t)
	ctx := context.Background()
	now := time.Unix(1700000000, 0)
	fake.SetNow(func() time.Time { return now })
	fake.EnforceWindow(true)

	if _, err := kf.SendMsg(ctx, apiclient.KFText(kfID, "wmUser", "", "before any message")); !apiclient.IsKFSessionInvalid(err) {
		t.Fatalf("send before the customer wrote = %v", err)
	}
	fake.PushCustomerText(kfID, "wmUser", "你好")
	for i := 0; i < 5; i++ {
		if _, err := kf.SendMsg(ctx, apiclient.KFText(kfID, "wmUser", "", "part")); err != nil {
			t.Fatalf("send %d = %v", i+1, err)
		}
	}
	if _, err := kf.SendMsg(ctx, apiclient.KFText(kfID, "wmUser", "", "sixth")); !apiclient.IsQuotaExceeded(err) {
		t.Fatalf("sixth send = %v, want 95001", err)
	}
	fake.PushCustomerText(kfID, "wmUser", "还在吗")
	id, err := kf.SendMsg(ctx, apiclient.KFText(kfID, "wmUser", "reply-1-part-1", "在的"))
	if err != nil || id != "reply-1-part-1" {
		t.Fatalf("send with msgid = %q, %v", id, err)
	}
	if _, err := kf.SendMsg(ctx, apiclient.KFText(kfID, "wmUser", "reply-1-part-1", "again")); !apiclient.IsPermanent(err) {
		t.Fatalf("duplicate msgid = %v", err)
	}

	// A human takes over: the bot may no longer send (LESSONS.md 95018).
	code, err := kf.TransServiceState(ctx, kfID, "wmUser", apiclient.KFStateHuman, "zhangsan")
	if err != nil || code == "" {
		t.Fatalf("trans to 3 = %q, %v", code, err)
	}
	st, err := kf.ServiceState(ctx, kfID, "wmUser")
	if err != nil || st.State != apiclient.KFStateHuman || st.ServicerUserID != "zhangsan" {
		t.Fatalf("ServiceState = %+v, %v", st, err)
	}
	if _, err := kf.SendMsg(ctx, apiclient.KFText(kfID, "wmUser", "", "bot")); !apiclient.IsKFSessionInvalid(err) || !apiclient.IsPermanent(err) {
		t.Fatalf("send while a human serves = %v", err)
	}
	// The msg_code of the transition can carry one event message, once.
	if _, err := kf.SendMsgOnEvent(ctx, apiclient.KFEventMessage{Code: code, MsgType: "text", Text: &apiclient.Text{Content: "已为您转接人工"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := kf.SendMsgOnEvent(ctx, apiclient.KFEventMessage{Code: code, MsgType: "text", Text: &apiclient.Text{Content: "again"}}); err == nil {
		t.Fatal("msg_code used twice")
	}
	// 48 h later the window is closed even for a bot-owned session.
	fake.SetSessionState(kfID, "wmUser", apiclient.KFStateBot, "")
	now = now.Add(49 * time.Hour)
	if _, err := kf.SendMsg(ctx, apiclient.KFText(kfID, "wmUser", "", "late")); !apiclient.IsKFSessionInvalid(err) {
		t.Fatalf("send after 48 h = %v", err)
	}
}

func TestKFWelcomeCode(t *testing.T) {
	fake, _, kf := newWeCom(t)
	ctx := context.Background()
	now := time.Unix(1700000000, 0)
	fake.SetNow(func() time.Time { return now })
	_, code := fake.PushEnterSession(kfID, "wmNew", "1", "campaign=spring")
	body, err := kf.SyncMsg(ctx, apiclient.SyncMsgRequest{OpenKfID: kfID})
	if err != nil {
		t.Fatal(err)
	}
	page, err := wxmsg.ParseKFSync(normalize.Source{Channel: "wecom_kf", Account: "kf"}, body)
	if err != nil || len(page.Messages) != 1 {
		t.Fatalf("page = %+v, %v", page, err)
	}
	m := page.Messages[0]
	if m.Event == nil || m.Event.Type != message.EventEnterSession || m.Event.Key != "campaign=spring" || m.Reply.Token != code ||
		!m.Reply.TokenExpires.Equal(now.Add(20*time.Second)) {
		t.Fatalf("enter_session = %+v", m)
	}
	now = now.Add(21 * time.Second)
	if _, err := kf.SendMsgOnEvent(ctx, apiclient.KFEventMessage{Code: code, MsgType: "text", Text: &apiclient.Text{Content: "欢迎"}}); err == nil {
		t.Fatal("expired welcome_code accepted")
	}
	_, code = fake.PushEnterSession(kfID, "wmNew2", "1", "")
	if _, err := kf.SendMsgOnEvent(ctx, apiclient.KFEventMessage{Code: code, MsgType: "text", Text: &apiclient.Text{Content: "欢迎"}}); err != nil {
		t.Fatalf("fresh welcome_code = %v", err)
	}
}

func TestKFStateMachine(t *testing.T) {
	fake, _, kf := newWeCom(t)
	ctx := context.Background()
	// PROTOCOLS.md §3.3: 0->1/2/3/4, 1->1/2/3/4, 2->2/3/4, 3->3/4, 4 fixed.
	tests := []struct {
		from, to int
		ok       bool
	}{
		{0, 1, true}, {0, 2, true}, {0, 3, true}, {0, 4, true},
		{1, 1, true}, {1, 2, true}, {1, 3, true}, {1, 4, true},
		{2, 1, false}, {2, 2, true}, {2, 3, true}, {2, 4, true},
		{3, 1, false}, {3, 2, false}, {3, 3, true}, {3, 4, true},
		{4, 0, false}, {4, 1, false}, {4, 2, false}, {4, 3, false},
	}
	for _, tt := range tests {
		user := "wm-state"
		fake.SetSessionState(kfID, user, tt.from, "zhangsan")
		_, err := kf.TransServiceState(ctx, kfID, user, tt.to, "lisi")
		if (err == nil) != tt.ok {
			t.Errorf("%d -> %d: err = %v, want ok=%v", tt.from, tt.to, err, tt.ok)
		}
	}
	if _, err := kf.TransServiceState(ctx, kfID, "wm-x", apiclient.KFStateHuman, ""); !apiclient.IsPermanent(err) {
		t.Fatalf("state 3 without servicer = %v", err)
	}
	// An ended session reopens (state 0) when the customer writes.
	fake.SetSessionState(kfID, "wm-end", 4, "")
	fake.PushCustomerText(kfID, "wm-end", "又来了")
	if st, _ := fake.SessionState(kfID, "wm-end"); st != 0 {
		t.Fatalf("state after the customer wrote = %d, want 0", st)
	}
}
