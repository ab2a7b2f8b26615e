package fakeplatform_test

import (
	"bytes"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/kefu-gateway/kefu/adapters/internal/dingmsg"
	"github.com/kefu-gateway/kefu/adapters/internal/fakeplatform"
	"github.com/kefu-gateway/kefu/adapters/internal/normalize"
	"github.com/kefu-gateway/kefu/adapters/internal/wxcrypto"
	"github.com/kefu-gateway/kefu/adapters/internal/wxmsg"
	"github.com/kefu-gateway/kefu/adapters/message"
)

const (
	token  = "kefutoken"
	aesKey = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
	appID  = "wxfake0000000001"
	corpID = "wwfake0000000001"
)

var at = time.Unix(1700000000, 0)

// open verifies and decrypts a built request the way an adapter does.
func open(t *testing.T, r *http.Request, receiveID string, format wxcrypto.Format) wxcrypto.Opened {
	t.Helper()
	c, err := wxcrypto.New(wxcrypto.Config{Token: token, EncodingAESKey: aesKey, ReceiveID: receiveID, MaxSkew: time.Minute, Now: func() time.Time { return at }})
	if err != nil {
		t.Fatal(err)
	}
	q, err := wxcrypto.ParseQuery(r.URL.Query())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(r.Body)
	opened, err := c.OpenRequest(q, body, format)
	if err != nil {
		t.Fatalf("OpenRequest = %v", err)
	}
	return opened
}

func TestCallbackSignerOfficialAccount(t *testing.T) {
	s := fakeplatform.CallbackSigner{Token: token, EncodingAESKey: aesKey, ReceiveID: appID, Now: func() time.Time { return at }}
	src := normalize.Source{Channel: "wechat_oa", Account: "shop"}
	payload := fakeplatform.OAText("oUser1", "gh_fake", "你好 ]]> <b>", 42, at)

	plain, err := s.PlainPush("http://kefu.test/wechat/oa/shop", payload, wxcrypto.FormatXML)
	if err != nil {
		t.Fatal(err)
	}
	if plain.URL.Query().Get("openid") != "oUser1" || plain.Header.Get("Content-Type") != "text/xml" {
		t.Fatalf("plain request %s", plain.URL)
	}
	enc, err := s.EncryptedPush("/wechat/oa/shop", payload, wxcrypto.FormatXML)
	if err != nil {
		t.Fatal(err)
	}
	for name, r := range map[string]*http.Request{"plain": plain, "encrypted": enc} {
		opened := open(t, r, appID, wxcrypto.FormatXML)
		if opened.Encrypted != (name == "encrypted") || !bytes.Equal(opened.Plain, payload) {
			t.Fatalf("%s: opened %+v", name, opened)
		}
		m, err := wxmsg.ParseOA(src, opened.Plain)
		if err != nil || m.Text != "你好 ]]> <b>" || m.ID != "42" || m.From.ID != "oUser1" || m.To.ID != "gh_fake" {
			t.Fatalf("%s: message %+v, %v", name, m, err)
		}
	}

	ev, err := wxmsg.ParseOA(src, fakeplatform.OAEvent("oUser1", "gh_fake", "subscribe", "qrscene_42", at))
	if err != nil || ev.Event == nil || ev.Event.Type != message.EventSubscribe || ev.Event.Key != "42" {
		t.Fatalf("event = %+v, %v", ev, err)
	}

	check, err := s.URLCheck("/wechat/oa/shop", "echo-123")
	if err != nil {
		t.Fatal(err)
	}
	c, _ := wxcrypto.New(wxcrypto.Config{Token: token})
	q, _ := wxcrypto.ParseQuery(check.URL.Query())
	if echo, err := c.VerifyEcho(q); err != nil || echo != "echo-123" || check.Method != http.MethodGet {
		t.Fatalf("URL check = %q, %v", echo, err)
	}
}

func TestCallbackSignerMiniProgramJSON(t *testing.T) {
	s := fakeplatform.CallbackSigner{Token: token, EncodingAESKey: aesKey, ReceiveID: appID, Now: func() time.Time { return at }}
	payload := fakeplatform.MPEnterSessionJSON("oMini", "gh_mini", "order:9", at)
	r, err := s.EncryptedPush("/wechat/mp/mini", payload, wxcrypto.FormatJSON)
	if err != nil {
		t.Fatal(err)
	}
	if r.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("content type %q", r.Header.Get("Content-Type"))
	}
	opened := open(t, r, appID, wxcrypto.FormatJSON)
	m, err := wxmsg.ParseMP(normalize.Source{Channel: "wechat_mp", Account: "mini"}, opened.Plain, wxcrypto.FormatJSON)
	if err != nil || m.Event == nil || m.Event.Type != message.EventEnterSession || m.Event.Key != "order:9" {
		t.Fatalf("message = %+v, %v", m, err)
	}
	text, err := wxmsg.ParseMP(normalize.Source{Channel: "wechat_mp", Account: "mini"}, fakeplatform.MPTextJSON("oMini", "gh_mini", "hi", 9007199254740993, at), wxcrypto.FormatJSON)
	if err != nil || text.ID != "9007199254740993" {
		t.Fatalf("text = %+v, %v", text, err)
	}
}

func TestCallbackSignerWeCom(t *testing.T) {
	s := fakeplatform.CallbackSigner{Token: token, EncodingAESKey: aesKey, ReceiveID: corpID, Now: func() time.Time { return at }}
	check, err := s.WeComURLCheck("/wecom/app/staff", "1616140317555161061")
	if err != nil {
		t.Fatal(err)
	}
	c, _ := wxcrypto.New(wxcrypto.Config{Token: token, EncodingAESKey: aesKey, ReceiveID: corpID})
	q, err := wxcrypto.ParseQuery(check.URL.Query())
	if err != nil {
		t.Fatal(err)
	}
	if echo, err := c.OpenEcho(q); err != nil || string(echo) != "1616140317555161061" {
		t.Fatalf("OpenEcho = %q, %v", echo, err)
	}

	r, err := s.WeComPush("/wecom/app/staff", fakeplatform.WeComAppText(corpID, "zhangsan", 1000002, "接入", 7, at), "1000002")
	if err != nil {
		t.Fatal(err)
	}
	if r.URL.Query().Get("encrypt_type") != "" || r.URL.Query().Get("signature") != "" {
		t.Fatalf("WeCom callbacks carry msg_signature only: %s", r.URL.RawQuery)
	}
	opened := open(t, r, corpID, wxcrypto.FormatXML)
	m, err := wxmsg.ParseWeComApp(normalize.Source{Channel: "wecom_app", Account: "staff"}, opened.Plain)
	if err != nil || m.Text != "接入" || m.Meta[wxmsg.MetaAgentID] != "1000002" {
		t.Fatalf("message = %+v, %v", m, err)
	}

	kr, err := s.WeComPush("/wecom/kf/kf", fakeplatform.KFCallback(corpID, "ENCtoken", "wkFAKE", at), "")
	if err != nil {
		t.Fatal(err)
	}
	cb, err := wxmsg.ParseKFCallback(open(t, kr, corpID, wxcrypto.FormatXML).Plain)
	if err != nil || !cb.IsMsgOrEvent() || cb.Token != "ENCtoken" || cb.OpenKfID != "wkFAKE" {
		t.Fatalf("kf callback = %+v, %v", cb, err)
	}

	// A passive reply sealed by the adapter is readable with OpenReply.
	env, err := c.Seal([]byte("<xml>reply</xml>"), at)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.OpenReply(env.XML(), wxcrypto.FormatXML); err != nil || string(got) != "<xml>reply</xml>" {
		t.Fatalf("OpenReply = %q, %v", got, err)
	}
}

func TestDingTalkCallbackBuilder(t *testing.T) {
	fake := fakeplatform.NewDingTalk(t)
	fake.SetNow(func() time.Time { return at })
	body := fake.TextCallbackBody(fakeplatform.DingTalkMessage{MsgID: "msg1", Text: "怎么开发票", ConversationType: "2", ConversationID: "cidG==", SenderStaffID: "lisi", RobotCode: "robot"})
	r, err := fakeplatform.DingTalkCallback("/dingtalk/corp", "dsecret", body, at)
	if err != nil {
		t.Fatal(err)
	}
	if err := dingmsg.VerifySign(r.Header.Get("timestamp"), r.Header.Get("sign"), "dsecret", at.Add(time.Minute), 0); err != nil {
		t.Fatalf("VerifySign = %v", err)
	}
	m, err := dingmsg.Parse(normalize.Source{Channel: "dingtalk", Account: "corp"}, body)
	if err != nil || m.Text != "怎么开发票" || m.ConversationID != "dingtalk:corp:cidG==" || m.Reply.Token == "" || !m.Reply.TokenExpires.After(at) {
		t.Fatalf("message = %+v, %v", m, err)
	}
}

func TestFaultTimes(t *testing.T) {
	fake := fakeplatform.NewWeChat(t)
	fake.AddApp(appID, "s")
	get := func() int {
		resp, err := http.Get(fake.URL() + "/cgi-bin/token?grant_type=client_credential&appid=" + appID + "&secret=s")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if bytes.Contains(b, []byte(`"errcode":-1`)) {
			return -1
		}
		return resp.StatusCode
	}
	fake.Fail("/cgi-bin/token", fakeplatform.Fault{ErrCode: -1, Times: 2})
	if a, b, c := get(), get(), get(); a != -1 || b != -1 || c != 200 {
		t.Fatalf("fault applied %d %d %d, want -1 -1 200", a, b, c)
	}
	fake.Fail("/cgi-bin/token", fakeplatform.Fault{Status: 503, Times: -1})
	if get() != 503 || get() != 503 {
		t.Fatal("persistent fault not applied")
	}
	fake.ClearFaults()
	if get() != 200 {
		t.Fatal("ClearFaults did not clear")
	}
	if n := fake.TokenCalls(appID); n != 2 {
		t.Fatalf("TokenCalls = %d, want 2 (faulted calls issue no token)", n)
	}
	if n := len(fake.Calls("/cgi-bin/token")); n != 6 {
		t.Fatalf("%d recorded calls, want 6", n)
	}
}
