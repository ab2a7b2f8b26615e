package apiclient_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/kefu-gateway/kefu/adapters/internal/apiclient"
	"github.com/kefu-gateway/kefu/adapters/internal/fakeplatform"
)

const (
	dingKey    = "dingfakekey"
	dingSecret = "dingfakesecret"
	robotCode  = "dingfakerobot"
)

func newDingTalk(t *testing.T) (*fakeplatform.DingTalk, *apiclient.DingTalkAPI) {
	fake := fakeplatform.NewDingTalk(t)
	fake.AddApp(dingKey, dingSecret)
	return fake, apiclient.NewDingTalkAPI(newClient(t, apiclient.DingTalk, fake.URL(), dingTokens(t, fake.URL(), dingKey, dingSecret)))
}

func TestDingTalkRobotSends(t *testing.T) {
	fake, api := newDingTalk(t)
	ctx := context.Background()
	res, err := api.SendToUsers(ctx, robotCode, []string{"manager4220"}, apiclient.RobotText("您的工单已受理"))
	if err != nil || res.ProcessQueryKey == "" {
		t.Fatalf("SendToUsers = %+v, %v", res, err)
	}
	call := fake.Calls("/v1.0/robot/oToMessages/batchSend")[0]
	if call.Header.Get("x-acs-dingtalk-access-token") == "" || call.Query.Get("access_token") != "" || call.App != dingKey {
		t.Fatalf("token not sent in the DingTalk header: %+v", call)
	}
	var param map[string]string
	if err := json.Unmarshal([]byte(call.String("msgParam")), &param); err != nil || param["content"] != "您的工单已受理" || call.String("msgKey") != "sampleText" {
		t.Fatalf("msgParam = %q (%v), msgKey %q", call.String("msgParam"), err, call.String("msgKey"))
	}
	key, err := api.SendToGroup(ctx, robotCode, "cidGROUP==", apiclient.RobotMarkdown("标题", "**内容**"))
	if err != nil || key == "" {
		t.Fatalf("SendToGroup = %q, %v", key, err)
	}
	// A 400 from the v1.0 API is a permanent PlatformError with the string code.
	fake.Fail("/v1.0/robot/groupMessages/send", fakeplatform.Fault{Status: 400, Key: "staffId.notExisted", ErrMsg: "staff not found"})
	_, err = api.SendToGroup(ctx, robotCode, "cidGROUP==", apiclient.RobotText("x"))
	if pe, ok := apiclient.AsPlatformError(err); !ok || pe.Key != "staffId.notExisted" || pe.HTTPStatus != 400 || !apiclient.IsPermanent(err) {
		t.Fatalf("400 = %v", err)
	}
}

func TestDingTalkInvalidTokenRetry(t *testing.T) {
	fake, api := newDingTalk(t)
	ctx := context.Background()
	if _, err := api.SendToUsers(ctx, robotCode, []string{"u1"}, apiclient.RobotText("a")); err != nil {
		t.Fatal(err)
	}
	fake.ExpireTokens()
	if _, err := api.SendToUsers(ctx, robotCode, []string{"u1"}, apiclient.RobotText("b")); err != nil {
		t.Fatalf("after expiry = %v", err)
	}
	if fake.TokenCalls(dingKey) != 2 {
		t.Fatalf("token calls = %d, want 2", fake.TokenCalls(dingKey))
	}
}

func TestDingTalkSessionWebhook(t *testing.T) {
	fake, api := newDingTalk(t)
	ctx := context.Background()
	now := time.Unix(1700000000, 0)
	fake.SetNow(func() time.Time { return now })
	hook, expires := fake.NewSessionWebhook()
	if !expires.After(now.Add(89 * time.Minute)) {
		t.Fatalf("webhook expires %s", expires)
	}
	// The webhook host is the platform's in production; the account's
	// api_base rewrite still routes it, here to the fake.
	prodHook := "https://oapi.dingtalk.com/robot/sendBySession?session=" + hook[len(hook)-len("fake-session-1"):]
	for _, h := range []string{hook, prodHook} {
		if err := api.ReplySession(ctx, h, apiclient.WebhookText("收到")); err != nil {
			t.Fatalf("ReplySession(%s) = %v", h, err)
		}
	}
	if err := api.ReplySession(ctx, hook, apiclient.WebhookMarkdownMessage("t", "**x**")); err != nil {
		t.Fatal(err)
	}
	calls := fake.Calls("/robot/sendBySession")
	if len(calls) != 3 || calls[0].Header.Get("x-acs-dingtalk-access-token") != "" || fake.TokenCalls(dingKey) != 0 {
		t.Fatalf("webhook calls = %d, token header %q, token calls %d", len(calls), calls[0].Header.Get("x-acs-dingtalk-access-token"), fake.TokenCalls(dingKey))
	}
	now = expires.Add(time.Second)
	if err := api.ReplySession(ctx, hook, apiclient.WebhookText("late")); !apiclient.IsPermanent(err) {
		t.Fatalf("expired webhook = %v", err)
	}
}
