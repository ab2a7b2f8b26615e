package wecomapp_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kefu-gateway/kefu/adapters/internal/conformance"
	"github.com/kefu-gateway/kefu/adapters/internal/fakeplatform"
	"github.com/kefu-gateway/kefu/adapters/internal/wxcrypto"
	"github.com/kefu-gateway/kefu/adapters/message"
	"github.com/kefu-gateway/kefu/adapters/wecomapp"
	"github.com/kefu-gateway/kefu/internal/testutil/apptest"
	"github.com/kefu-gateway/kefu/internal/testutil/redistest"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	conformance.Run(t, newConformanceHarness(t))
}

// conformanceHarness drives the helpdesk app against the WeCom fake, behind
// the suite's recorder.
type conformanceHarness struct {
	fake   *fakeplatform.WeCom
	rec    *conformance.Recorder
	signer fakeplatform.CallbackSigner
}

var _ conformance.Harness = (*conformanceHarness)(nil)

const appPath = "/wecom/app/helpdesk"

func newConformanceHarness(t testing.TB) *conformanceHarness {
	fake := fakeplatform.NewWeCom(t)
	fake.AddSecret(corpID, appSecret)
	return &conformanceHarness{fake: fake, rec: conformance.NewRecorder(t, fake.URL()),
		signer: fakeplatform.CallbackSigner{Token: token, EncodingAESKey: aesKey, ReceiveID: corpID}}
}

func (h *conformanceHarness) Kind() string    { return wecomapp.Kind }
func (h *conformanceHarness) Account() string { return "helpdesk" }

func (h *conformanceHarness) Start(t testing.TB, db *redistest.DB) *apptest.Server {
	cfg := fmt.Sprintf(`
log: { level: debug }
http: { body_limit: %d }
flows: { dir: %q }
channels:
  wecom_app:
    - id: helpdesk
      corp_id: %s
      agent_id: 1000002
      secret: %s
      token: %s
      encoding_aes_key: %s
      api_base: %s
`, conformance.BodyLimit, conformance.FlowsDir(t), corpID, appSecret, token, aesKey, h.rec.URL())
	return apptest.Start(t, cfg, apptest.Options{DB: db})
}

func (h *conformanceHarness) URLCheck(t testing.TB) (*http.Request, string, bool) {
	r, err := h.signer.WeComURLCheck(appPath, "4451203967223501")
	if err != nil {
		t.Fatal(err)
	}
	return r, "4451203967223501", true
}

func (h *conformanceHarness) push(t testing.TB, s fakeplatform.CallbackSigner, in conformance.Inbound) *http.Request {
	id, err := strconv.ParseInt(in.ID, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.WeComPush(appPath, fakeplatform.WeComAppText(corpID, in.Customer, 1000002, in.Text, id, in.At), "1000002")
	if err != nil {
		t.Fatal(err)
	}
	return withGetBody(t, r)
}

func (h *conformanceHarness) Request(t testing.TB, in conformance.Inbound) *http.Request {
	return h.push(t, h.signer, in)
}

func (h *conformanceHarness) Forged(t testing.TB, in conformance.Inbound) *http.Request {
	s := h.signer
	s.Token = "forgedtoken"
	return h.push(t, s, in)
}

func (h *conformanceHarness) Stale(t testing.TB, in conformance.Inbound) *http.Request {
	s := h.signer
	s.Now = func() time.Time { return time.Now().Add(-time.Hour) }
	return h.push(t, s, in)
}

// Malformed: validly signed envelopes whose Encrypt is not base64, decrypts
// to something that is not XML, or to a message without a sender.
func (h *conformanceHarness) Malformed(t testing.TB) []*http.Request {
	c, err := wxcrypto.New(wxcrypto.Config{Token: token, EncodingAESKey: aesKey, ReceiveID: corpID})
	if err != nil {
		t.Fatal(err)
	}
	notXML, _ := c.Encrypt([]byte("decrypts, but is no XML"))
	noSender, _ := c.Encrypt([]byte("<xml><ToUserName>" + corpID + "</ToUserName><MsgType>text</MsgType><Content>x</Content><MsgId>1</MsgId></xml>"))
	post := func(encrypt string) *http.Request {
		ts, nonce := strconv.FormatInt(time.Now().Unix(), 10), "7788"
		q := url.Values{"msg_signature": {wxcrypto.Signature(token, ts, nonce, encrypt)}, "timestamp": {ts}, "nonce": {nonce}}
		body := "<xml><ToUserName>" + corpID + "</ToUserName><AgentID>1000002</AgentID><Encrypt><![CDATA[" + encrypt + "]]></Encrypt></xml>"
		r, _ := http.NewRequest(http.MethodPost, appPath+"?"+q.Encode(), strings.NewReader(body))
		return withGetBody(t, r)
	}
	return []*http.Request{post("%%%not-base64%%%"), post("QUJDRA=="), post(notXML), post(noSender)}
}

// Passive: the app's callbacks are answered with an empty 200; every reply
// goes out through message/send.
func (h *conformanceHarness) Passive(t testing.TB, in conformance.Inbound, status int, body []byte) []string {
	if status == http.StatusOK && len(body) != 0 {
		t.Errorf("callback answered with a body %q; WeCom app callbacks get an empty 200", body)
	}
	return nil
}

func (h *conformanceHarness) Active(t testing.TB, customer string) []conformance.Sent {
	var out []conformance.Sent
	for _, c := range h.rec.Accepted("/cgi-bin/message/send") {
		if c.String("touser") != customer {
			continue
		}
		text, _ := c.JSON["text"].(map[string]any)
		content, _ := text["content"].(string)
		out = append(out, conformance.Sent{Text: content, At: c.At})
	}
	return out
}

func (h *conformanceHarness) Customer(customer string) (string, message.Party) {
	return wecomapp.Kind + ":helpdesk:" + customer, message.Party{ID: customer, Role: message.RoleCustomer}
}

// WeCom apps have no reply window towards members.
func (h *conformanceHarness) OpenWindow(testing.TB, *apptest.Server, string) int { return 0 }
func (h *conformanceHarness) CloseWindow(testing.TB, *apptest.Server, string)    {}
func (h *conformanceHarness) Secrets() []string                                  { return []string{appSecret, token, aesKey} }
func (h *conformanceHarness) Traits() conformance.Traits                         { return conformance.Traits{} }

// withGetBody makes a request's body re-readable, as the suite expects.
func withGetBody(t testing.TB, r *http.Request) *http.Request {
	var body []byte
	if r.Body != nil {
		var err error
		if body, err = io.ReadAll(r.Body); err != nil {
			t.Fatal(err)
		}
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	r.ContentLength = int64(len(body))
	return r
}
