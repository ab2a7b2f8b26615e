package dingtalk_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/kefu-gateway/kefu/adapters/dingtalk"
	"github.com/kefu-gateway/kefu/adapters/internal/conformance"
	"github.com/kefu-gateway/kefu/adapters/internal/fakeplatform"
	"github.com/kefu-gateway/kefu/adapters/message"
	"github.com/kefu-gateway/kefu/internal/testutil/apptest"
	"github.com/kefu-gateway/kefu/internal/testutil/redistest"
)

// HTTP mode passes the shared channel suite. (Stream mode receives no HTTP
// requests; its tests are in stream_test.go and normalize the same bodies.)
func TestConformance(t *testing.T) {
	t.Parallel()
	conformance.Run(t, newConformanceHarness(t))
}

// Active reads the DingTalk fake's own request log: the suite's recorder
// keeps no query string, and a session webhook is told apart only by its
// ?session=. Nothing in the suite makes DingTalk refuse a send, so every
// logged send reached the customer.
type conformanceHarness struct {
	fake *fakeplatform.DingTalk

	mu       sync.Mutex
	webhooks map[string]string // message id → its session webhook
	owners   map[string]string // session → customer
}

var _ conformance.Harness = (*conformanceHarness)(nil)

const robotPath = "/dingtalk/robot"

func newConformanceHarness(t testing.TB) *conformanceHarness {
	fake := fakeplatform.NewDingTalk(t)
	fake.AddApp(appKey, appSecret)
	return &conformanceHarness{fake: fake, webhooks: map[string]string{}, owners: map[string]string{}}
}

func (h *conformanceHarness) Kind() string    { return dingtalk.Kind }
func (h *conformanceHarness) Account() string { return "robot" }

func (h *conformanceHarness) Start(t testing.TB, db *redistest.DB) *apptest.Server {
	cfg := fmt.Sprintf(`
log: { level: debug }
http: { body_limit: %d }
flows: { dir: %q }
channels:
  dingtalk:
    - id: robot
      app_key: %s
      app_secret: %s
      api_base: %s
`, conformance.BodyLimit, conformance.FlowsDir(t), appKey, appSecret, h.fake.URL())
	return apptest.Start(t, cfg, apptest.Options{DB: db})
}

// DingTalk robots have no URL verification.
func (h *conformanceHarness) URLCheck(testing.TB) (*http.Request, string, bool) {
	return nil, "", false
}

// body is the callback of in: a 1:1 text from in.Customer, with one session
// webhook per message (retries carry the same one).
func (h *conformanceHarness) body(in conformance.Inbound) []byte {
	h.mu.Lock()
	hook, ok := h.webhooks[in.ID]
	if !ok {
		hook, _ = h.fake.NewSessionWebhook()
		h.webhooks[in.ID] = hook
		u, _ := url.Parse(hook)
		h.owners[u.Query().Get("session")] = in.Customer
	}
	h.mu.Unlock()
	return h.fake.TextCallbackBody(fakeplatform.DingTalkMessage{
		MsgID: in.ID, Text: in.Text, SenderStaffID: in.Customer, ConversationID: "cid" + in.Customer, RobotCode: robotCode,
		SessionWebhook: hook, SessionWebhookExpires: time.Now().Add(fakeplatform.SessionWebhookLifetime), CreateAt: in.At,
	})
}

func (h *conformanceHarness) signed(t testing.TB, body []byte, at time.Time, secret string) *http.Request {
	r, err := fakeplatform.DingTalkCallback(robotPath, secret, body, at)
	if err != nil {
		t.Fatal(err)
	}
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	return r
}

func (h *conformanceHarness) Request(t testing.TB, in conformance.Inbound) *http.Request {
	return h.signed(t, h.body(in), time.Now(), appSecret)
}

func (h *conformanceHarness) Forged(t testing.TB, in conformance.Inbound) *http.Request {
	return h.signed(t, h.body(in), time.Now(), "not-the-app-secret")
}

func (h *conformanceHarness) Stale(t testing.TB, in conformance.Inbound) *http.Request {
	return h.signed(t, h.body(in), time.Now().Add(-2*time.Hour), appSecret)
}

// Malformed: validly signed bodies that are JSON but no robot message.
func (h *conformanceHarness) Malformed(t testing.TB) []*http.Request {
	var out []*http.Request
	for _, b := range []string{
		`{"msgtype":"text","text":{"content":"hi"}}`,
		`{"msgId":"m1","msgtype":"text","senderStaffId":"s","conversationId":"c","conversationType":"9","text":{"content":"x"}}`,
		`{"msgId":"m2","msgtype":"text","senderStaffId":"s","conversationId":"c","conversationType":"1","createAt":"soon","text":{"content":"x"}}`,
		`["not","an","object"]`,
	} {
		out = append(out, h.signed(t, []byte(b), time.Now(), appSecret))
	}
	return out
}

// Passive: the callback is acknowledged with an empty 200; answers go out
// through the webhook or the OpenAPI.
func (h *conformanceHarness) Passive(t testing.TB, in conformance.Inbound, status int, body []byte) []string {
	if status == http.StatusOK && len(body) != 0 {
		t.Errorf("callback answered with a body %q, want an empty 200", body)
	}
	return nil
}

func (h *conformanceHarness) Active(t testing.TB, customer string) []conformance.Sent {
	var out []conformance.Sent
	h.mu.Lock()
	owners := make(map[string]string, len(h.owners))
	for k, v := range h.owners {
		owners[k] = v
	}
	h.mu.Unlock()
	calls := append(h.fake.Calls("/robot/sendBySession"), h.fake.Calls("/v1.0/robot/oToMessages/batchSend")...)
	for _, c := range calls {
		text := ""
		switch {
		case c.Path == "/robot/sendBySession":
			if owners[c.Query.Get("session")] != customer {
				continue
			}
			if m, ok := c.JSON["text"].(map[string]any); ok {
				text, _ = m["content"].(string)
			}
			if m, ok := c.JSON["markdown"].(map[string]any); ok {
				text, _ = m["text"].(string)
			}
		default:
			if fmt.Sprint(c.JSON["userIds"]) != "["+customer+"]" {
				continue
			}
			var p map[string]string
			json.Unmarshal([]byte(c.String("msgParam")), &p)
			text = p["content"] + p["text"]
		}
		out = append(out, conformance.Sent{Text: text, At: c.Time})
	}
	sortSent(out)
	return out
}

func sortSent(s []conformance.Sent) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j].At.Before(s[j-1].At); j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

func (h *conformanceHarness) Customer(customer string) (string, message.Party) {
	return dingtalk.Kind + ":robot:" + customer, message.Party{ID: customer, Role: message.RoleCustomer}
}

// DingTalk robots have no reply window.
func (h *conformanceHarness) OpenWindow(testing.TB, *apptest.Server, string) int { return 0 }
func (h *conformanceHarness) CloseWindow(testing.TB, *apptest.Server, string)    {}
func (h *conformanceHarness) Secrets() []string                                  { return []string{appSecret} }
func (h *conformanceHarness) Traits() conformance.Traits                         { return conformance.Traits{} }
