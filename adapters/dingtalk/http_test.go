package dingtalk_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kefu-gateway/kefu/adapters/dingtalk"
	"github.com/kefu-gateway/kefu/adapters/internal/dingmsg"
	"github.com/kefu-gateway/kefu/adapters/internal/fakeplatform"
	"github.com/kefu-gateway/kefu/adapters/message"
	"github.com/kefu-gateway/kefu/internal/testutil/apptest"
	"github.com/kefu-gateway/kefu/router"
)

const (
	appKey    = "dingappkey0001"
	appSecret = "ding-app-secret-never-logged"
	robotCode = "dingrobot0001"
	greeting  = "您好！我是小店的智能客服"
)

func dingConfig(apiBase, accounts string) string {
	return fmt.Sprintf(`
flows: { dir: %s/configs/flows }
http: { body_limit: 4194304 }  # so an over-1-MiB callback reaches the channel's own limit
channels:
  dingtalk:
    - id: robot
      app_key: %s
      app_secret: %s
      api_base: %s
      timeout: 3s
%s`, apptest.RepoRoot(), appKey, appSecret, apiBase, accounts)
}

type dworld struct {
	t    *testing.T
	fake *fakeplatform.DingTalk
	srv  *apptest.Server
}

func startHTTP(t *testing.T, extra string) *dworld {
	fake := fakeplatform.NewDingTalk(t)
	fake.AddApp(appKey, appSecret)
	return &dworld{t: t, fake: fake, srv: apptest.Start(t, dingConfig(fake.URL(), extra), apptest.Options{})}
}

// post sends a signed callback made at `at` and returns the status and body.
func (w *dworld) post(path string, body []byte, at time.Time, secret string) (int, string) {
	w.t.Helper()
	r, err := fakeplatform.DingTalkCallback(w.srv.URL+path, secret, body, at)
	if err != nil {
		w.t.Fatal(err)
	}
	return do(w.t, r)
}

func do(t *testing.T, r *http.Request) (int, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (w *dworld) message(m fakeplatform.DingTalkMessage) []byte {
	if m.RobotCode == "" {
		m.RobotCode = robotCode
	}
	if m.SenderStaffID == "" {
		m.SenderStaffID = "staff-zhang"
	}
	if m.ConversationID == "" {
		m.ConversationID = "cidSingle" + m.SenderStaffID
	}
	return w.fake.TextCallbackBody(m)
}

func (w *dworld) webhookReplies() []fakeplatform.Request { return w.fake.Calls("/robot/sendBySession") }

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

func textOf(r fakeplatform.Request) string {
	if t, ok := r.JSON["text"].(map[string]any); ok {
		return fmt.Sprint(t["content"])
	}
	if m, ok := r.JSON["markdown"].(map[string]any); ok {
		return fmt.Sprint(m["text"])
	}
	var p map[string]string
	json.Unmarshal([]byte(r.String("msgParam")), &p)
	if p["content"] != "" {
		return p["content"]
	}
	return p["text"]
}

// 1:1: the callback is answered with an empty 200 at once, the reply goes
// through the sessionWebhook, a retry is answered once; once the webhook is
// about to expire, or DingTalk refuses it, the robot OpenAPI batchSend is
// used with the robot code and the staff id.
func TestHTTPModeOneToOne(t *testing.T) {
	t.Parallel()
	w := startHTTP(t, "")
	body := w.message(fakeplatform.DingTalkMessage{MsgID: "msg-1", Text: "你好"})
	start := time.Now()
	if status, resp := w.post("/dingtalk/robot", body, time.Now(), appSecret); status != 200 || resp != "" {
		t.Fatalf("callback = %d %q", status, resp)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("callback answered after %s", d)
	}
	eventually(t, 10*time.Second, "the webhook reply", func() bool { return len(w.webhookReplies()) == 1 })
	if r := w.webhookReplies()[0]; r.String("msgtype") != "text" || !strings.HasPrefix(textOf(r), greeting) {
		t.Fatalf("webhook reply %s", r.Body)
	}
	// DingTalk's redelivery of the same msgId is not answered again.
	w.post("/dingtalk/robot", body, time.Now(), appSecret)

	// A webhook with 30 s left is not trusted (webhook_margin 1m): OpenAPI.
	soon := w.message(fakeplatform.DingTalkMessage{MsgID: "msg-2", Text: "营业时间", SessionWebhook: w.fake.URL() + "/robot/sendBySession?session=unused", SessionWebhookExpires: time.Now().Add(30 * time.Second)})
	w.post("/dingtalk/robot", soon, time.Now(), appSecret)
	eventually(t, 10*time.Second, "the OpenAPI send", func() bool { return len(w.fake.Calls("/v1.0/robot/oToMessages/batchSend")) == 1 })
	b := w.fake.Calls("/v1.0/robot/oToMessages/batchSend")[0]
	if b.String("robotCode") != robotCode || fmt.Sprint(b.JSON["userIds"]) != "[staff-zhang]" || b.String("msgKey") != "sampleText" ||
		!strings.Contains(textOf(b), "小店客服时间") || b.App != appKey {
		t.Fatalf("batchSend body %s (token of %q)", b.Body, b.App)
	}

	// A webhook DingTalk no longer knows: the OpenAPI takes over.
	dead := w.message(fakeplatform.DingTalkMessage{MsgID: "msg-3", Text: "hi", SessionWebhook: w.fake.URL() + "/robot/sendBySession?session=gone", SessionWebhookExpires: time.Now().Add(time.Hour)})
	w.post("/dingtalk/robot", dead, time.Now(), appSecret)
	eventually(t, 10*time.Second, "the fallback send", func() bool { return len(w.fake.Calls("/v1.0/robot/oToMessages/batchSend")) == 2 })
	time.Sleep(300 * time.Millisecond)
	if n := len(w.webhookReplies()); n != 2 { // the first reply, and the refused attempt
		t.Errorf("%d webhook calls, want 2", n)
	}
	if n := len(w.fake.Calls("/v1.0/robot/oToMessages/batchSend")); n != 2 {
		t.Errorf("%d batchSend calls, want 2", n)
	}
	if n := w.fake.TokenCalls(appKey); n != 1 {
		t.Errorf("%d token fetches, want 1", n)
	}
	for _, e := range w.srv.Logs.All() {
		if strings.Contains(fmt.Sprint(e.Message, e.ContextMap()), appSecret) {
			t.Fatal("the app secret was logged")
		}
	}
}

// Groups: the @mention is left out of the text the flows see, the reply goes
// through the webhook, and after it expires through the group OpenAPI with
// the openConversationId — also for answers produced outside the turn.
func TestHTTPModeGroup(t *testing.T) {
	t.Parallel()
	w := startHTTP(t, "")
	group := fakeplatform.DingTalkMessage{MsgID: "g-1", Text: "你好", ConversationType: "2", ConversationID: "cidGroup0001", ConversationTitle: "售后群"}
	w.post("/dingtalk/robot", w.message(group), time.Now(), appSecret)
	eventually(t, 10*time.Second, "the group reply", func() bool { return len(w.webhookReplies()) == 1 })
	if !strings.HasPrefix(textOf(w.webhookReplies()[0]), greeting) {
		t.Fatalf("group reply %q: the @mention was not stripped", textOf(w.webhookReplies()[0]))
	}
	conv := "dingtalk:robot:cidGroup0001"
	tx, _ := router.NewTranscriptReader(w.srv.DB.Client, w.srv.App.Store.Keys).After(context.Background(), conv, "", 10)
	if len(tx) == 0 || tx[0].Text != "你好" {
		t.Fatalf("group transcript %+v", tx)
	}

	expired := group
	expired.MsgID = "g-2"
	expired.Text = "营业时间"
	expired.SessionWebhook = w.fake.URL() + "/robot/sendBySession?session=old"
	expired.SessionWebhookExpires = time.Now().Add(-time.Minute)
	w.post("/dingtalk/robot", w.message(expired), time.Now(), appSecret)
	eventually(t, 10*time.Second, "the group OpenAPI send", func() bool { return len(w.fake.Calls("/v1.0/robot/groupMessages/send")) == 1 })
	g := w.fake.Calls("/v1.0/robot/groupMessages/send")[0]
	if g.String("openConversationId") != "cidGroup0001" || g.String("robotCode") != robotCode {
		t.Fatalf("group send body %s", g.Body)
	}

	// An answer produced later (an agent's) finds the saved route.
	_, err := w.srv.App.Router.Deliver(context.Background(), router.Delivery{
		ConversationID: conv, Channel: dingtalk.Kind, Account: "robot", Customer: message.Party{ID: "staff-zhang"},
		Messages: []message.Message{{From: message.Party{Role: message.RoleAgent, Name: "小王"}, Kind: message.KindText, Text: "我是人工客服小王"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the delivered message", func() bool { return len(w.fake.Calls("/v1.0/robot/groupMessages/send")) == 2 })
	if g := w.fake.Calls("/v1.0/robot/groupMessages/send")[1]; textOf(g) != "我是人工客服小王" || g.String("openConversationId") != "cidGroup0001" {
		t.Fatalf("delivered %s", g.Body)
	}
}

// Markdown replies go as markdown through the webhook and the OpenAPI.
func TestMarkdown(t *testing.T) {
	t.Parallel()
	w := startHTTP(t, "")
	w.post("/dingtalk/robot", w.message(fakeplatform.DingTalkMessage{MsgID: "m-1", Text: "你好"}), time.Now(), appSecret)
	eventually(t, 10*time.Second, "the reply", func() bool { return len(w.webhookReplies()) == 1 })
	a, _ := w.srv.App.Adapters.Lookup(dingtalk.Kind, "robot")
	if !a.Capabilities().Markdown {
		t.Fatal("Capabilities.Markdown is false")
	}
	md := message.Message{ConversationID: "dingtalk:robot:staff-zhang", Channel: dingtalk.Kind, Account: "robot", Kind: message.KindText,
		Text: "## 退货说明\n签收后 **7 天内** 可申请退货。", Markdown: true, From: message.Party{Role: message.RoleBot}}
	if _, err := a.Send(context.Background(), md); err != nil {
		t.Fatal(err)
	}
	r := w.webhookReplies()[1]
	mdBody, _ := r.JSON["markdown"].(map[string]any)
	if r.String("msgtype") != "markdown" || mdBody["title"] != "退货说明" || !strings.Contains(fmt.Sprint(mdBody["text"]), "**7 天内**") {
		t.Fatalf("markdown webhook body %s", r.Body)
	}
}

// The sign window: stale and future timestamps, wrong secrets and missing
// headers are refused with 401 and never reach a flow.
func TestHTTPModeRefusesBadRequests(t *testing.T) {
	t.Parallel()
	w := startHTTP(t, `    - id: streamed
      app_key: other
      app_secret: other-secret
      mode: stream
      api_base: http://127.0.0.1:1`)
	body := func(id string) []byte { return w.message(fakeplatform.DingTalkMessage{MsgID: id, Text: "你好"}) }
	now := time.Now()
	raw := func(headers map[string]string, b []byte) *http.Request {
		r, _ := http.NewRequest(http.MethodPost, w.srv.URL+"/dingtalk/robot", bytes.NewReader(b))
		for k, v := range headers {
			r.Header.Set(k, v)
		}
		return r
	}
	ts := strconv.FormatInt(now.UnixMilli(), 10)
	cases := []struct {
		name string
		run  func() int
		want int
	}{
		{"61 minutes old", func() int {
			s, _ := w.post("/dingtalk/robot", body("b-1"), now.Add(-61*time.Minute), appSecret)
			return s
		}, 401},
		{"61 minutes ahead", func() int {
			s, _ := w.post("/dingtalk/robot", body("b-2"), now.Add(61*time.Minute), appSecret)
			return s
		}, 401},
		{"wrong secret", func() int { s, _ := w.post("/dingtalk/robot", body("b-3"), now, "not-the-secret"); return s }, 401},
		{"no headers", func() int { s, _ := do(t, raw(nil, body("b-4"))); return s }, 401},
		{"sign without timestamp", func() int {
			s, _ := do(t, raw(map[string]string{"sign": dingmsg.Sign(ts, appSecret)}, body("b-5")))
			return s
		}, 401},
		{"timestamp not a number", func() int {
			s, _ := do(t, raw(map[string]string{"timestamp": "yesterday", "sign": dingmsg.Sign("yesterday", appSecret)}, body("b-6")))
			return s
		}, 400},
		{"malformed JSON", func() int { s, _ := w.post("/dingtalk/robot", []byte(`{"msgId":`), now, appSecret); return s }, 400},
		{"no msgId", func() int {
			s, _ := w.post("/dingtalk/robot", []byte(`{"msgtype":"text","text":{"content":"hi"}}`), now, appSecret)
			return s
		}, 400},
		{"oversized", func() int {
			s, _ := w.post("/dingtalk/robot", append([]byte(`{"pad":"`), bytes.Repeat([]byte("x"), 1<<20)...), now, appSecret)
			return s
		}, 413},
		{"unknown account", func() int { s, _ := w.post("/dingtalk/nope", body("b-7"), now, appSecret); return s }, 404},
		{"stream-mode account", func() int { s, _ := w.post("/dingtalk/streamed", body("b-8"), now, "other-secret"); return s }, 404},
		{"59 minutes old is fine", func() int {
			s, _ := w.post("/dingtalk/robot", body("b-9"), now.Add(-59*time.Minute), appSecret)
			return s
		}, 200},
	}
	for _, tc := range cases {
		if got := tc.run(); got != tc.want {
			t.Errorf("%s: status %d, want %d", tc.name, got, tc.want)
		}
	}
	eventually(t, 10*time.Second, "the reply to the good request", func() bool { return len(w.webhookReplies()) == 1 })
	time.Sleep(300 * time.Millisecond)
	if n := len(w.webhookReplies()); n != 1 {
		t.Fatalf("%d replies: a refused request ran a flow", n)
	}
}

// Short texts typed one after another are answered once, together
// (merge_window, the router's burst merging).
func TestBurstIsAnsweredOnce(t *testing.T) {
	t.Parallel()
	w := startHTTP(t, "")
	w.post("/dingtalk/robot", w.message(fakeplatform.DingTalkMessage{MsgID: "burst-1", Text: "在吗", SenderStaffID: "staff-li"}), time.Now(), appSecret)
	w.post("/dingtalk/robot", w.message(fakeplatform.DingTalkMessage{MsgID: "burst-2", Text: "想问下营业时间", SenderStaffID: "staff-li"}), time.Now(), appSecret)
	eventually(t, 10*time.Second, "the reply", func() bool { return len(w.webhookReplies()) >= 1 })
	time.Sleep(2 * time.Second)
	got := w.webhookReplies()
	if len(got) != 1 || !strings.Contains(textOf(got[0]), "小店客服时间") {
		t.Fatalf("%d replies to a burst of two, first %q; want one answering both", len(got), textOf(got[0]))
	}
}

// A configured robot_code is the one the OpenAPI sends with, whatever robot
// code the callback carried.
func TestConfiguredRobotCodeWins(t *testing.T) {
	t.Parallel()
	const configured = "dingrobotConfigured"
	w := startHTTP(t, "      robot_code: "+configured+"\n")
	soon := w.message(fakeplatform.DingTalkMessage{MsgID: "msg-rc", Text: "营业时间",
		SessionWebhook: w.fake.URL() + "/robot/sendBySession?session=unused", SessionWebhookExpires: time.Now().Add(30 * time.Second)})
	if status, _ := w.post("/dingtalk/robot", soon, time.Now(), appSecret); status != 200 {
		t.Fatalf("callback = %d", status)
	}
	eventually(t, 10*time.Second, "the OpenAPI send", func() bool { return len(w.fake.Calls("/v1.0/robot/oToMessages/batchSend")) == 1 })
	if b := w.fake.Calls("/v1.0/robot/oToMessages/batchSend")[0]; b.String("robotCode") != configured {
		t.Fatalf("batchSend robotCode %q, want the configured %q", b.String("robotCode"), configured)
	}
}
