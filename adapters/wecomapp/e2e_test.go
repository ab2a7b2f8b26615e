package wecomapp_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kefu-gateway/kefu/adapters/internal/fakeplatform"
	"github.com/kefu-gateway/kefu/adapters/wecomapp"
	"github.com/kefu-gateway/kefu/internal/clock"
	"github.com/kefu-gateway/kefu/internal/testutil/apptest"
	"github.com/kefu-gateway/kefu/internal/testutil/metricstest"
)

const (
	corpID    = "ww0123456789abcdef"
	appSecret = "app-secret-never-logged"
	token     = "kefutoken"
	aesKey    = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
	greeting  = "您好！我是小店的智能客服"
)

func config(apiBase, rateLimit string) string {
	return fmt.Sprintf(`
flows: { dir: %s/configs/flows }
channels:
  wecom_app:
    - id: helpdesk
      corp_id: %s
      agent_id: 1000002
      secret: %s
      token: %s
      encoding_aes_key: %s
      api_base: %s
      timeout: 3s
%s`, apptest.RepoRoot(), corpID, appSecret, token, aesKey, apiBase, rateLimit)
}

func send(t *testing.T, r *http.Request, base string) (int, string) {
	t.Helper()
	u := base + r.URL.RequestURI()
	req, err := http.NewRequest(r.Method, u, r.Body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = r.Header
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func eventually(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestEmployeeIsAnsweredThroughTheApp(t *testing.T) {
	t.Parallel()
	fake := fakeplatform.NewWeCom(t)
	fake.AddSecret(corpID, appSecret)
	srv := apptest.Start(t, config(fake.URL(), ""), apptest.Options{})
	signer := fakeplatform.CallbackSigner{Token: token, EncodingAESKey: aesKey, ReceiveID: corpID}

	// The URL check answers the decrypted echo exactly.
	check, _ := signer.WeComURLCheck("/wecom/app/helpdesk", "echo-4242")
	if status, body := send(t, check, srv.URL); status != 200 || body != "echo-4242" {
		t.Fatalf("URL check = %d %q", status, body)
	}

	push := func(user, text string, msgID int64) *http.Request {
		r, err := signer.WeComPush("/wecom/app/helpdesk", fakeplatform.WeComAppText(corpID, user, 1000002, text, msgID, time.Now()), "1000002")
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	start := time.Now()
	status, body := send(t, push("zhangsan", "你好", 7001), srv.URL)
	if status != 200 || body != "" {
		t.Fatalf("callback = %d %q, want an empty 200", status, body)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("callback answered after %s", d)
	}
	eventually(t, 10*time.Second, "the reply", func() bool { return len(fake.Calls("/cgi-bin/message/send")) == 1 })
	got := fake.Calls("/cgi-bin/message/send")[0]
	text, _ := got.JSON["text"].(map[string]any)
	if got.String("touser") != "zhangsan" || got.JSON["agentid"] != float64(1000002) || got.String("msgtype") != "text" ||
		!strings.Contains(fmt.Sprint(text["content"]), greeting) {
		t.Fatalf("message/send body = %s", got.Body)
	}
	if got.App != fakeplatform.WeComApp(corpID, appSecret) {
		t.Errorf("sent with the token of %q", got.App)
	}

	// WeCom's retry of the same MsgId is answered 200 and not answered again.
	send(t, push("zhangsan", "你好", 7001), srv.URL)
	time.Sleep(500 * time.Millisecond)
	if n := len(fake.Calls("/cgi-bin/message/send")); n != 1 {
		t.Fatalf("%d sends after a retried callback, want 1", n)
	}
	if n := fake.TokenCalls(fakeplatform.WeComApp(corpID, appSecret)); n != 1 {
		t.Errorf("%d token fetches, want 1", n)
	}
	for _, e := range srv.Logs.All() {
		if strings.Contains(fmt.Sprint(e.Message, e.ContextMap()), appSecret) {
			t.Fatalf("the app secret was logged: %s", e.Message)
		}
	}
}

// SendText, the handoff component's way to reach an agent, splits long text
// into parts of at most 2048 bytes that arrive in order.
func TestSendTextSplitsAt2048Bytes(t *testing.T) {
	t.Parallel()
	fake := fakeplatform.NewWeCom(t)
	fake.AddSecret(corpID, appSecret)
	srv := apptest.Start(t, config(fake.URL(), ""), apptest.Options{})
	a, ok := srv.App.Adapters.Lookup(wecomapp.Kind, "helpdesk")
	if !ok {
		t.Fatal("no helpdesk account")
	}
	long := strings.Repeat("退货政策：签收后7天内可申请无理由退货。\n", 150)
	if _, err := a.(*wecomapp.Account).SendText(context.Background(), "agent-wang", long); err != nil {
		t.Fatal(err)
	}
	var joined strings.Builder
	calls := fake.Calls("/cgi-bin/message/send")
	for _, c := range calls {
		content := fmt.Sprint(c.JSON["text"].(map[string]any)["content"])
		if len(content) > 2048 || c.String("touser") != "agent-wang" {
			t.Fatalf("part of %d bytes to %q", len(content), c.String("touser"))
		}
		joined.WriteString(content)
	}
	if len(calls) < 3 || strings.ReplaceAll(joined.String(), "\n", "") != strings.ReplaceAll(long, "\n", "") {
		t.Fatalf("%d parts do not add up to the text", len(calls))
	}
}

// Over the per-member limit, messages are queued and still delivered, all of
// them, instead of being dropped by WeCom.
func TestPerMemberLimitQueuesInsteadOfDropping(t *testing.T) {
	t.Parallel()
	fake := fakeplatform.NewWeCom(t)
	fake.AddSecret(corpID, appSecret)
	// The clock runs two minutes behind, so the slot a minute ahead is
	// already due for asynq and the queued message leaves at once.
	behind := clock.NewFake(time.Now().Add(-2 * time.Minute))
	srv := apptest.Start(t, config(fake.URL(), "      rate_limit: { per_minute: 2, max_wait: 0s }"), apptest.Options{Clock: behind})
	signer := fakeplatform.CallbackSigner{Token: token, EncodingAESKey: aesKey, ReceiveID: corpID, Now: behind.Now}
	for i, text := range []string{"你好", "hello", "hi"} {
		r, _ := signer.WeComPush("/wecom/app/helpdesk", fakeplatform.WeComAppText(corpID, "lisi", 1000002, text, int64(8000+i), behind.Now()), "1000002")
		if status, _ := send(t, r, srv.URL); status != 200 {
			t.Fatalf("callback %d = %d", i, status)
		}
		eventually(t, 10*time.Second, "a send", func() bool { return len(fake.Calls("/cgi-bin/message/send")) >= min(i+1, 2) })
	}
	eventually(t, 15*time.Second, "the queued third reply", func() bool { return len(fake.Calls("/cgi-bin/message/send")) == 3 })
	for _, c := range fake.Calls("/cgi-bin/message/send") {
		if c.String("touser") != "lisi" {
			t.Errorf("sent to %q", c.String("touser"))
		}
	}
	if n := metricstest.Sum(t, srv.App.Metrics.Registry, "kefu_wecom_app_rate_limited_total", "queued"); n != 1 {
		t.Errorf("rate-limited queued = %v, want 1", n)
	}
}
