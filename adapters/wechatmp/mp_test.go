package wechatmp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kefu-gateway/kefu/adapters"
	"github.com/kefu-gateway/kefu/adapters/internal/fakeplatform"
	"github.com/kefu-gateway/kefu/adapters/internal/wxcrypto"
	"github.com/kefu-gateway/kefu/adapters/message"
	"github.com/kefu-gateway/kefu/internal/clock"
	"github.com/kefu-gateway/kefu/internal/testutil/apptest"
	"github.com/kefu-gateway/kefu/router"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

const (
	answerHello   = "您好，这里是小程序客服。"
	answerProduct = "欢迎从商品页进入客服，尺码库存都可以问我。"
	answerSlow    = "物流状态：已发货"
	unsupported   = "抱歉，我暂时只能看懂文字消息，请用文字描述您的问题。"
)

func testFlows(t testing.TB, slowURL string) string {
	t.Helper()
	q := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	src := `flows:
  - id: hello
    triggers: { keywords: [你好] }
    steps: [ { say: ` + q(answerHello) + ` } ]
  - id: product
    triggers: { events: ["enter_session:product_page"] }
    steps: [ { say: ` + q(answerProduct) + ` } ]
  - id: tracking
    triggers: { keywords: [查物流] }
    steps:
      - http: { url: ` + q(slowURL) + `, timeout: 30s, map: { status: response.status } }
      - say: "物流状态：{{slots.status}}"
`
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "mp.yaml"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func exchange(t testing.TB, srv *apptest.Server, req *http.Request) (int, string, time.Duration) {
	t.Helper()
	req = req.Clone(context.Background())
	req.URL.Scheme, req.URL.Host, req.Host, req.RequestURI = "http", srv.Addr, srv.Addr, ""
	if req.GetBody != nil {
		req.Body, _ = req.GetBody()
	}
	start := time.Now()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(body), time.Since(start)
}

func eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (h *harness) texts(t testing.TB, customer string) []string {
	var out []string
	for _, s := range h.Active(t, customer) {
		out = append(out, s.Text)
	}
	return out
}

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Every push kind, in both data formats, plain and encrypted: acknowledged
// with success at once, normalized, answered through the API, and the
// window each opens (a message: 5 for 48 h; entering the chat: 2 within a
// minute) charged one message for the answer.
func TestInboundKinds(t *testing.T) {
	t.Parallel()
	type kind struct {
		name, answer string
		window       int
		check        func(t *testing.T, m message.Message)
	}
	kinds := []kind{
		{"text", answerHello, 4, func(t *testing.T, m message.Message) {
			if m.Kind != message.KindText || m.Text != "你好" {
				t.Errorf("text normalized to %+v", m)
			}
		}},
		{"image", unsupported, 4, func(t *testing.T, m message.Message) {
			if m.Kind != message.KindImage || len(m.Attachments) != 1 || !strings.HasPrefix(m.Attachments[0].MediaID, "mp_media_image_") {
				t.Errorf("image normalized to %+v", m)
			}
		}},
		{"miniprogrampage", unsupported, 4, func(t *testing.T, m message.Message) {
			if m.Kind != message.KindMiniProgram || m.Attachments[0].Title != "纯棉T恤 白色 L码" || m.Attachments[0].URL != "pages/item/index?id=42" || m.Meta["app_id"] != appID {
				t.Errorf("mini-program card normalized to %+v", m)
			}
		}},
		{"enter_session", answerProduct, 1, func(t *testing.T, m message.Message) {
			if m.Kind != message.KindEvent || m.Event == nil || m.Event.Type != message.EventEnterSession || m.Event.Key != "product_page" {
				t.Errorf("user_enter_tempsession normalized to %+v", m)
			}
		}},
	}
	for _, mode := range []string{"xml-plain", "xml-safe", "json-plain", "json-safe"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, mode)
			h.flowsDir = testFlows(t, "http://127.0.0.1:1/unused")
			srv := h.Start(t, nil)
			a, _ := srv.App.Adapters.Lookup(h.Kind(), account)
			for _, k := range kinds {
				payload := readFile(t, "push/"+k.name+"."+h.format.String())
				var probe struct{ FromUserName string }
				_ = json.Unmarshal(payload, &probe)
				if probe.FromUserName == "" {
					probe.FromUserName = between(string(payload), "<FromUserName><![CDATA[", "]]>")
				}
				customer := probe.FromUserName
				h.fake.CustomerMessaged(appID, customer)
				status, body, _ := exchange(t, srv, h.push(t, h.signer, payload))
				if status != http.StatusOK || body != "success" {
					t.Fatalf("%s answered %d %q, want success", k.name, status, body)
				}
				eventually(t, 10*time.Second, k.name+"'s answer", func() bool { return len(h.texts(t, customer)) > 0 })
				if got := h.texts(t, customer); len(got) != 1 || got[0] != k.answer {
					t.Fatalf("%s: customer received %q, want %q", k.name, got, k.answer)
				}
				ms, err := router.NewTranscriptReader(srv.DB.Client, srv.App.Store.Keys).After(context.Background(), "wechat_mp:app:"+customer, "", 10)
				if err != nil || len(ms) == 0 {
					t.Fatalf("%s: transcript %v, %v", k.name, ms, err)
				}
				if ms[0].Channel != "wechat_mp" || ms[0].To.ID != mpID {
					t.Errorf("%s: routing fields %+v", k.name, ms[0])
				}
				k.check(t, ms[0])
				w, err := a.(adapters.WindowChecker).Window(context.Background(), message.Party{ID: customer})
				if err != nil || !w.Open || w.Remaining != k.window {
					t.Errorf("%s: window %+v, %v; want %d left after the answer", k.name, w, err, k.window)
				}
			}
		})
	}
}

// A push stamped ahead of kefu's clock is armed from kefu's now; WeChat's
// retry of it, later, must not renew the grant and give back the message
// the answer used (Arming.Source keeps the push's id).
func TestRetryOfAPushStampedAheadKeepsUsedQuota(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "json-plain")
	h.flowsDir = testFlows(t, "http://127.0.0.1:1/unused")
	srv := h.Start(t, nil)
	a, _ := srv.App.Adapters.Lookup(h.Kind(), account)
	const customer = "oMpAhead"
	h.fake.CustomerMessaged(appID, customer)
	payload := h.mpText(customer, "你好", "88101", time.Now().Add(3*time.Second))
	for i := range 2 {
		if status, body, _ := exchange(t, srv, h.push(t, h.signer, payload)); status != http.StatusOK || body != "success" {
			t.Fatalf("attempt %d answered %d %q", i+1, status, body)
		}
		if i == 0 {
			eventually(t, 10*time.Second, "the answer", func() bool { return len(h.texts(t, customer)) == 1 })
			time.Sleep(5 * time.Millisecond) // kefu's now moves on before the retry
		}
	}
	if n := len(h.texts(t, customer)); n != 1 {
		t.Fatalf("%d answers to a push and its retry, want 1", n)
	}
	w, err := a.(adapters.WindowChecker).Window(context.Background(), message.Party{ID: customer})
	if err != nil || w.Remaining != 4 {
		t.Fatalf("window after the push, its answer and its retry = %+v, %v; want 4 left", w, err)
	}
}

func between(s, a, b string) string {
	_, rest, _ := strings.Cut(s, a)
	v, _, _ := strings.Cut(rest, b)
	return v
}

// A slow answer: every attempt of the push — three, one on a second
// process — is acknowledged at once, typing shows after typing_after, the
// look-up runs once and the answer arrives once.
func TestSlowAnswerAcknowledgedAndSentOnce(t *testing.T) {
	t.Parallel()
	var hits atomic.Int64
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		time.Sleep(1500 * time.Millisecond)
		_, _ = w.Write([]byte(`{"status":"已发货"}`))
	}))
	t.Cleanup(slow.Close)
	h := newHarness(t, "json-safe")
	h.flowsDir = testFlows(t, slow.URL)
	h.extra = "typing_after: 300ms"
	a := h.Start(t, nil)
	b := h.Start(t, a.DB)
	const customer = "oMpSlow"
	h.fake.CustomerMessaged(appID, customer)
	payload := h.mpText(customer, "查物流", "88001", time.Now())
	for i, srv := range []*apptest.Server{a, a, b} {
		status, body, took := exchange(t, srv, h.push(t, h.signer, payload))
		if status != http.StatusOK || body != "success" || took > 1200*time.Millisecond {
			t.Fatalf("attempt %d answered %d %q in %s, want success within ack_wait", i+1, status, body, took)
		}
	}
	eventually(t, 10*time.Second, "the answer", func() bool { return len(h.texts(t, customer)) > 0 })
	time.Sleep(1500 * time.Millisecond)
	if got := h.texts(t, customer); len(got) != 1 || got[0] != answerSlow {
		t.Fatalf("customer received %q, want one %q", got, answerSlow)
	}
	if hits.Load() != 1 {
		t.Fatalf("look-up ran %d times", hits.Load())
	}
	typing := 0
	for _, c := range h.rec.Accepted("/cgi-bin/message/custom/typing") {
		if c.String("touser") == customer && c.String("command") == "Typing" {
			typing++
		}
	}
	if typing != 1 {
		t.Fatalf("typing shown %d times, want once", typing)
	}
}

// Outside the window a message goes as the configured subscribe message;
// a direct SendTemplate call sends one too, and WindowChecker reports the
// closed window without using anything.
func TestSubscribeFallbackAndTemplateSender(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "xml-plain")
	h.extra = `subscribe_fallback: { template_id: TPL_MP_REPLY, page: "pages/kefu/index", miniprogram_state: trial, fields: { thing1: "{{text}}" } }`
	srv := h.Start(t, nil)
	a, _ := srv.App.Adapters.Lookup(h.Kind(), account)
	party := message.Party{ID: "oMpNoWindow", Role: message.RoleCustomer}
	if w, err := a.(adapters.WindowChecker).Window(context.Background(), party); err != nil || w.Open {
		t.Fatalf("window = %+v, %v; want closed", w, err)
	}
	if _, err := srv.App.Router.Deliver(context.Background(), router.Delivery{
		ConversationID: "wechat_mp:app:oMpNoWindow", Channel: "wechat_mp", Account: account, Customer: party,
		Messages: []message.Message{{Kind: message.KindText, Text: "您的问题已处理完毕", From: message.Party{Role: message.RoleAgent}}},
	}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the subscribe message", func() bool { return len(h.rec.Accepted("/cgi-bin/message/subscribe/send")) == 1 })
	c := h.rec.Accepted("/cgi-bin/message/subscribe/send")[0]
	if c.String("template_id") != "TPL_MP_REPLY" || c.String("page") != "pages/kefu/index" || c.String("miniprogram_state") != "trial" ||
		!strings.Contains(string(c.Body), `"thing1":{"value":"您的问题已处理完毕"}`) {
		t.Fatalf("subscribe call %s", c.Body)
	}
	if n := len(h.rec.Calls("/cgi-bin/message/custom/send")); n != 0 {
		t.Fatalf("%d customer-service sends outside the window", n)
	}
	if _, err := a.(adapters.TemplateSender).SendTemplate(context.Background(), party, "TPL_DIRECT", map[string]string{"phrase1": "已发货"}, "pages/order/index?id=1"); err != nil {
		t.Fatal(err)
	}
	if n := len(h.rec.Accepted("/cgi-bin/message/subscribe/send")); n != 2 {
		t.Fatalf("%d subscribe messages, want 2", n)
	}
}

// Tencent's published signature vector (PROTOCOLS.md §0, from the
// mini-program message-push guide) passes the URL check.
func TestURLCheckTencentVector(t *testing.T) {
	t.Parallel()
	cfg := fmt.Sprintf(`
channels:
  wechat_mp:
    - { id: vector, app_id: wxvector, app_secret: x, token: AAAAA }
flows: { dir: %q }
`, testFlows(t, "http://127.0.0.1:1/unused"))
	srv := apptest.Start(t, cfg, apptest.Options{Clock: clock.NewFake(time.Unix(1714036504, 0)), NoWorkers: true})
	req, _ := http.NewRequest(http.MethodGet, "/wechat/mp/vector?signature=f464b24fc39322e44b38aa78f5edd27bd1441696&timestamp=1714036504&nonce=1514711492&echostr=mp-echo-1", nil)
	if status, body, _ := exchange(t, srv, req); status != http.StatusOK || body != "mp-echo-1" {
		t.Fatalf("URL check with the published vector answered %d %q", status, body)
	}
}

// A safe-mode JSON push recorded once (testdata/encrypted) is opened,
// acknowledged and answered. Regenerate with -update.
func TestGoldenEncryptedJSONPush(t *testing.T) {
	t.Parallel()
	at := time.Unix(1714036504, 0)
	if *update {
		s := fakeplatform.CallbackSigner{Token: token, EncodingAESKey: aesKey, ReceiveID: appID, Now: func() time.Time { return at }, Nonce: "1514711492"}
		req, err := s.EncryptedPush(path, readFile(t, "push/text.json"), wxcrypto.FormatJSON)
		if err != nil {
			t.Fatal(err)
		}
		_ = os.MkdirAll("testdata/encrypted", 0o755)
		_ = os.WriteFile("testdata/encrypted/text.query", []byte(req.URL.RawQuery), 0o644)
		_ = os.WriteFile("testdata/encrypted/text.json", readBody(t, req), 0o644)
	}
	h := newHarness(t, "json-safe")
	h.flowsDir = testFlows(t, "http://127.0.0.1:1/unused")
	srv := apptest.Start(t, h.config(t), apptest.Options{Clock: clock.NewFake(at)})
	body := readFile(t, "encrypted/text.json")
	if !bytes.Contains(body, []byte(`"Encrypt"`)) {
		t.Fatalf("golden body is not an encrypted JSON envelope: %s", body)
	}
	req, _ := http.NewRequest(http.MethodPost, path+"?"+strings.TrimSpace(string(readFile(t, "encrypted/text.query"))), nil)
	if status, reply, _ := exchange(t, srv, withBody(req, body)); status != http.StatusOK || reply != "success" {
		t.Fatalf("golden push answered %d %q", status, reply)
	}
	// The fake clock stands in 2024, so the reply window kefu records has
	// long expired in Redis' time: only the message itself is checked.
	eventually(t, 10*time.Second, "the message in the transcript", func() bool {
		ms, _ := router.NewTranscriptReader(srv.DB.Client, srv.App.Store.Keys).After(context.Background(), "wechat_mp:app:oMpText00000000000000000002", "", 10)
		return len(ms) > 0 && ms[0].Text == "你好" && ms[0].Timestamp.Equal(at)
	})
}
