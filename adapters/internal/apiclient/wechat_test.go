package apiclient_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/kefu-gateway/kefu/adapters/internal/apiclient"
	"github.com/kefu-gateway/kefu/adapters/internal/fakeplatform"
)

const (
	appID  = "wxfake0000000001"
	secret = "app-secret-do-not-log"
)

func newWeChat(t *testing.T) (*fakeplatform.WeChat, *apiclient.WeChatAPI, *testTokens) {
	fake := fakeplatform.NewWeChat(t)
	fake.AddApp(appID, secret)
	tokens := wechatTokens(t, fake.URL(), appID, secret)
	return fake, apiclient.NewWeChatAPI(newClient(t, apiclient.WeChat, fake.URL(), tokens)), tokens
}

func TestWeChatSendCustomThroughAPIBase(t *testing.T) {
	fake, api, _ := newWeChat(t)
	ctx := context.Background()
	if err := api.SendCustom(ctx, apiclient.CustomText("oUser1", "您好")); err != nil {
		t.Fatal(err)
	}
	calls := fake.Calls("/cgi-bin/message/custom/send")
	if len(calls) != 1 {
		t.Fatalf("%d calls", len(calls))
	}
	c := calls[0]
	text, _ := c.JSON["text"].(map[string]any)
	if c.String("touser") != "oUser1" || c.String("msgtype") != "text" || text["content"] != "您好" || c.App != appID {
		t.Fatalf("recorded call = %+v", c)
	}
	if c.Query.Get("access_token") == "" {
		t.Fatal("no access_token in the query")
	}
	if err := api.SetTyping(ctx, "oUser1", true); err != nil {
		t.Fatal(err)
	}
	if got := fake.Calls("/cgi-bin/message/custom/typing")[0].String("command"); got != "Typing" {
		t.Fatalf("typing command = %q", got)
	}
	id, err := api.SendTemplate(ctx, apiclient.TemplateMessage{ToUser: "oUser1", TemplateID: "tpl", Data: map[string]apiclient.TemplateValue{"first": {Value: "hi"}}})
	if err != nil || id == 0 {
		t.Fatalf("SendTemplate = %d, %v", id, err)
	}
	if err := api.SendSubscribe(ctx, apiclient.SubscribeMessage{ToUser: "oUser1", TemplateID: "sub", Data: map[string]apiclient.SubscribeValue{"thing1": {Value: "x"}}}); err != nil {
		t.Fatal(err)
	}
}

func TestWeChatTokenErrorsRefreshAndRetryOnce(t *testing.T) {
	for _, tt := range []struct {
		name  string
		spoil func(*fakeplatform.WeChat)
	}{
		{"revoked 40001", (*fakeplatform.WeChat).RevokeTokens},
		{"expired 42001", (*fakeplatform.WeChat).ExpireTokens},
	} {
		t.Run(tt.name, func(t *testing.T) {
			fake, api, tokens := newWeChat(t)
			ctx := context.Background()
			if err := api.SendCustom(ctx, apiclient.CustomText("o1", "a")); err != nil {
				t.Fatal(err)
			}
			tt.spoil(fake)
			if err := api.SendCustom(ctx, apiclient.CustomText("o1", "b")); err != nil {
				t.Fatalf("send after token loss = %v", err)
			}
			if got := fake.TokenCalls(appID); got != 2 {
				t.Fatalf("token calls = %d, want 2 (one refresh)", got)
			}
			if len(tokens.invalidated) != 1 {
				t.Fatalf("invalidated %v", tokens.invalidated)
			}
			if n := len(fake.Calls("/cgi-bin/message/custom/send")); n != 3 {
				t.Fatalf("%d send calls, want 3 (ok, refused, retried)", n)
			}
		})
	}
	t.Run("retries only once", func(t *testing.T) {
		fake, api, _ := newWeChat(t)
		fake.Fail("/cgi-bin/message/custom/send", fakeplatform.Fault{ErrCode: 40001, Times: -1})
		err := api.SendCustom(context.Background(), apiclient.CustomText("o1", "a"))
		if !apiclient.IsTokenInvalid(err) {
			t.Fatalf("err = %v", err)
		}
		if n := len(fake.Calls("/cgi-bin/message/custom/send")); n != 2 {
			t.Fatalf("%d send calls, want 2", n)
		}
	})
}

func TestWeChatWindowAndQuota(t *testing.T) {
	fake, api, _ := newWeChat(t)
	ctx := context.Background()
	now := time.Unix(1700000000, 0)
	fake.SetNow(func() time.Time { return now })
	fake.EnforceWindow(true)

	err := api.SendCustom(ctx, apiclient.CustomText("o1", "no window"))
	if !apiclient.IsWindowClosed(err) || !apiclient.IsPermanent(err) {
		t.Fatalf("send without a customer message = %v, want 45015", err)
	}
	fake.CustomerMessaged(appID, "o1")
	for i := 0; i < 5; i++ {
		if err := api.SendCustom(ctx, apiclient.CustomText("o1", "part")); err != nil {
			t.Fatalf("send %d = %v", i+1, err)
		}
	}
	err = api.SendCustom(ctx, apiclient.CustomText("o1", "sixth"))
	if !apiclient.IsQuotaExceeded(err) || !apiclient.IsPermanent(err) {
		t.Fatalf("sixth send = %v, want 45047", err)
	}
	fake.CustomerMessaged(appID, "o1") // the customer writes again: re-armed
	if err := api.SendCustom(ctx, apiclient.CustomText("o1", "again")); err != nil {
		t.Fatal(err)
	}
	now = now.Add(48*time.Hour + time.Second)
	if err := api.SendCustom(ctx, apiclient.CustomText("o1", "late")); !apiclient.IsWindowClosed(err) {
		t.Fatalf("send after 48 h = %v, want 45015", err)
	}
}

func TestErrorsCarryNoSecrets(t *testing.T) {
	fake := fakeplatform.NewWeChat(t)
	fake.AddApp(appID, secret)
	tokens := wechatTokens(t, fake.URL(), appID, secret)
	api := apiclient.NewWeChatAPI(newClient(t, apiclient.WeChat, fake.URL(), tokens))
	ctx := context.Background()
	if err := api.SendCustom(ctx, apiclient.CustomText("o1", "a")); err != nil {
		t.Fatal(err)
	}
	token, _ := tokens.Token(ctx)
	fake.Close() // every later call fails at the transport
	err := api.SendCustom(ctx, apiclient.CustomText("o1", "a"))
	if err == nil || !apiclient.IsTransient(err) {
		t.Fatalf("err = %v, want a transient transport error", err)
	}
	if strings.Contains(err.Error(), token) || strings.Contains(err.Error(), "access_token") {
		t.Fatalf("error leaks the token: %v", err)
	}
	tokens.current = ""
	err = api.SendCustom(ctx, apiclient.CustomText("o1", "a"))
	if err == nil || strings.Contains(err.Error(), secret) {
		t.Fatalf("token fetch error leaks the secret: %v", err)
	}
}

func TestTimeoutsAndHTTPErrors(t *testing.T) {
	fake := fakeplatform.NewWeChat(t)
	fake.AddApp(appID, secret)
	tokens := wechatTokens(t, fake.URL(), appID, secret)
	c, err := apiclient.New(apiclient.WeChat, apiclient.Config{APIBase: fake.URL(), Timeout: 100 * time.Millisecond}, tokens)
	if err != nil {
		t.Fatal(err)
	}
	api := apiclient.NewWeChatAPI(c)
	ctx := context.Background()

	fake.Fail("/cgi-bin/message/custom/send", fakeplatform.Fault{Delay: 2 * time.Second})
	start := time.Now()
	err = api.SendCustom(ctx, apiclient.CustomText("o1", "slow"))
	if !apiclient.IsTransient(err) || time.Since(start) > time.Second {
		t.Fatalf("slow call = %v after %s, want a transient timeout", err, time.Since(start))
	}
	fake.Fail("/cgi-bin/message/custom/send", fakeplatform.Fault{Status: 502})
	if err := api.SendCustom(ctx, apiclient.CustomText("o1", "x")); !apiclient.IsTransient(err) {
		t.Fatalf("502 = %v", err)
	}
	fake.Fail("/cgi-bin/message/custom/send", fakeplatform.Fault{ErrCode: -1, ErrMsg: "system error"})
	if err := api.SendCustom(ctx, apiclient.CustomText("o1", "x")); !apiclient.IsTransient(err) {
		t.Fatalf("-1 = %v", err)
	}
	fake.Fail("/cgi-bin/message/custom/send", fakeplatform.Fault{ErrCode: 40003, ErrMsg: "invalid openid"})
	err = api.SendCustom(ctx, apiclient.CustomText("o1", "x"))
	pe, ok := apiclient.AsPlatformError(err)
	if !ok || pe.Code != 40003 || pe.Msg != "invalid openid" || !apiclient.IsPermanent(err) {
		t.Fatalf("40003 = %v", err)
	}
	if err := api.SendCustom(ctx, apiclient.CustomText("o1", "fine again")); err != nil {
		t.Fatal(err)
	}
	// A canceled context is neither transient nor permanent.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	err = api.SendCustom(cctx, apiclient.CustomText("o1", "x"))
	if err == nil || apiclient.IsPermanent(err) {
		t.Fatalf("canceled = %v", err)
	}
}

func TestResponseLimit(t *testing.T) {
	fake := fakeplatform.NewWeChat(t)
	fake.AddApp(appID, secret)
	c, err := apiclient.New(apiclient.WeChat, apiclient.Config{APIBase: fake.URL(), MaxResponseBytes: 10}, wechatTokens(t, fake.URL(), appID, secret))
	if err != nil {
		t.Fatal(err)
	}
	// The send response {"errcode":0,"errmsg":"ok"} is over 10 bytes.
	err = apiclient.NewWeChatAPI(c).SendCustom(context.Background(), apiclient.CustomText("o1", "x"))
	if err == nil || !strings.Contains(err.Error(), "response too large") {
		t.Fatalf("err = %v", err)
	}
}

func TestBadRequestsAreRefusedLocally(t *testing.T) {
	fake, api, _ := newWeChat(t)
	if err := api.SendCustom(context.Background(), apiclient.CustomMessage{}); !apiclient.IsPermanent(err) {
		t.Fatalf("empty message = %v", err)
	}
	if n := len(fake.Requests()); n != 0 {
		t.Fatalf("%d requests reached the platform", n)
	}
}
