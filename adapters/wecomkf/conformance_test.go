package wecomkf_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kefu-gateway/kefu/adapters/internal/conformance"
	"github.com/kefu-gateway/kefu/adapters/internal/fakeplatform"
	"github.com/kefu-gateway/kefu/adapters/internal/window"
	"github.com/kefu-gateway/kefu/adapters/internal/wxcrypto"
	"github.com/kefu-gateway/kefu/adapters/internal/wxmsg"
	"github.com/kefu-gateway/kefu/adapters/message"
	"github.com/kefu-gateway/kefu/adapters/wecomkf"
	"github.com/kefu-gateway/kefu/internal/testutil/apptest"
	"github.com/kefu-gateway/kefu/internal/testutil/rawhttp"
	"github.com/kefu-gateway/kefu/internal/testutil/redistest"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	conformance.Run(t, newConformanceHarness(t))
}

// conformanceHarness drives a 微信客服 account against the WeCom fake.
//
// 微信客服 callbacks carry no message: the message waits on the platform and
// the callback only announces it. The suite builds a request per message
// and sometimes sends it mangled (forged, stale, truncated, oversized),
// expecting nothing to run. If the harness queued the message on the fake
// when building the request, any other check's genuine callback would make
// kefu pull it. So, as the platform does — a message exists, then an
// authentic callback announces it — a small gateway in front of kefu queues
// a message on the fake only when the callback announcing it is authentic,
// fresh and within the body limit, and then forwards the request. Each
// message's callback carries its own token, which is how the gateway knows
// which message it announces.
type conformanceHarness struct {
	fake   *fakeplatform.WeCom
	rec    *conformance.Recorder
	signer fakeplatform.CallbackSigner
	check  *wxcrypto.Crypter

	mu      sync.Mutex
	pending map[string]conformance.Inbound // callback token → message
	queued  map[string]bool                // message ids queued on the fake
}

var _ conformance.Harness = (*conformanceHarness)(nil)

const kfPath = "/wecom/kf/shop"

func newConformanceHarness(t testing.TB) *conformanceHarness {
	fake := fakeplatform.NewWeCom(t)
	fake.AddSecret(corpID, kfSecret)
	// kefu's own window record decides (OpenWindow/CloseWindow); the fake
	// cannot open a window without queueing a message.
	fake.EnforceWindow(false)
	check, err := wxcrypto.New(wxcrypto.Config{Token: token, EncodingAESKey: aesKey, ReceiveID: corpID, MaxSkew: wxcrypto.DefaultMaxSkew})
	if err != nil {
		t.Fatal(err)
	}
	return &conformanceHarness{fake: fake, rec: conformance.NewRecorder(t, fake.URL()), check: check,
		signer:  fakeplatform.CallbackSigner{Token: token, EncodingAESKey: aesKey, ReceiveID: corpID},
		pending: map[string]conformance.Inbound{}, queued: map[string]bool{}}
}

func (h *conformanceHarness) Kind() string    { return wecomkf.Kind }
func (h *conformanceHarness) Account() string { return "shop" }

func (h *conformanceHarness) Start(t testing.TB, db *redistest.DB) *apptest.Server {
	cfg := fmt.Sprintf(`
log: { level: debug }
http: { body_limit: %d }
flows: { dir: %q }
channels:
  wecom_kf:
    - id: shop
      corp_id: %s
      secret: %s
      token: %s
      encoding_aes_key: %s
      api_base: %s
`, conformance.BodyLimit, conformance.FlowsDir(t), corpID, kfSecret, token, aesKey, h.rec.URL())
	srv := apptest.Start(t, cfg, apptest.Options{DB: db})
	gw := h.gateway(t, srv.URL)
	front := *srv
	front.URL, front.Addr = gw.URL, strings.TrimPrefix(gw.URL, "http://")
	return &front
}

// gateway forwards to kefu, first queueing the message an authentic
// callback announces. It forwards over a plain connection and reads kefu's
// answer even when kefu answers early and closes (a 413 or 431 before the
// request is fully read), which a reverse proxy would turn into a 502.
func (h *conformanceHarness) gateway(t testing.TB, kefu string) *httptest.Server {
	addr := strings.TrimPrefix(kefu, "http://")
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		// Only a request the platform could have sent announces a message:
		// it never sends a query that does not decode.
		if q, err := url.ParseQuery(r.URL.RawQuery); err == nil && r.Method == http.MethodPost && len(body) <= conformance.BodyLimit {
			h.announced(q, body)
		}
		res, err := forward(addr, r, body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer res.Body.Close()
		for k, v := range res.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(res.StatusCode)
		_, _ = io.Copy(w, res.Body)
	}))
	t.Cleanup(gw.Close)
	return gw
}

// forward sends r with body to addr over its own connection (rawhttp), so
// an early answer is kept.
func forward(addr string, r *http.Request, body []byte) (*http.Response, error) {
	out := r.Clone(context.Background())
	out.URL.Scheme, out.URL.Host, out.Host, out.RequestURI = "http", addr, addr, ""
	out.Body, out.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
	out.Close = true
	return rawhttp.Do(addr, out, 30*time.Second)
}

// announced queues the message of an authentic callback's token, once.
func (h *conformanceHarness) announced(q url.Values, body []byte) {
	query, err := wxcrypto.ParseQuery(q)
	if err != nil {
		return
	}
	opened, err := h.check.OpenRequest(query, body, wxcrypto.FormatXML)
	if err != nil {
		return
	}
	cb, err := wxmsg.ParseKFCallback(opened.Plain)
	if err != nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	in, ok := h.pending[cb.Token]
	if !ok || h.queued[in.ID] {
		return
	}
	h.queued[in.ID] = true
	h.fake.PushCustomerText(kf, in.Customer, in.Text)
}

// callback builds the kf_msg_or_event request announcing in, signed by s.
func (h *conformanceHarness) callback(t testing.TB, s fakeplatform.CallbackSigner, tok string) *http.Request {
	r, err := s.WeComPush(kfPath, fakeplatform.KFCallback(corpID, tok, kf, time.Now()), "")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	return r
}

func (h *conformanceHarness) Request(t testing.TB, in conformance.Inbound) *http.Request {
	tok := "ENCconformance" + in.ID
	h.mu.Lock()
	h.pending[tok] = in
	h.mu.Unlock()
	return h.callback(t, h.signer, tok)
}

func (h *conformanceHarness) Forged(t testing.TB, in conformance.Inbound) *http.Request {
	s := h.signer
	s.Token = "forgedtoken"
	return h.callback(t, s, "ENCforged"+in.ID)
}

func (h *conformanceHarness) Stale(t testing.TB, in conformance.Inbound) *http.Request {
	s := h.signer
	s.Now = func() time.Time { return time.Now().Add(-time.Hour) }
	return h.callback(t, s, "ENCstale"+in.ID)
}

// Malformed: validly signed callbacks whose Encrypt is not base64, or that
// decrypt to something that is not a kf callback.
func (h *conformanceHarness) Malformed(t testing.TB) []*http.Request {
	notXML, _ := h.check.Encrypt([]byte("decrypts, but is no XML"))
	noEvent, _ := h.check.Encrypt([]byte("<xml><ToUserName>" + corpID + "</ToUserName><MsgType>event</MsgType></xml>"))
	noToken, _ := h.check.Encrypt([]byte("<xml><ToUserName>" + corpID + "</ToUserName><MsgType>event</MsgType><Event>kf_msg_or_event</Event><OpenKfId>" + kf + "</OpenKfId></xml>"))
	post := func(encrypt string) *http.Request {
		ts, nonce := strconv.FormatInt(time.Now().Unix(), 10), "6677"
		q := url.Values{"msg_signature": {wxcrypto.Signature(token, ts, nonce, encrypt)}, "timestamp": {ts}, "nonce": {nonce}}
		body := []byte("<xml><ToUserName>" + corpID + "</ToUserName><Encrypt><![CDATA[" + encrypt + "]]></Encrypt></xml>")
		r, _ := http.NewRequest(http.MethodPost, kfPath+"?"+q.Encode(), bytes.NewReader(body))
		r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
		return r
	}
	return []*http.Request{post("%%%not-base64%%%"), post("QUJDRA=="), post(notXML), post(noEvent), post(noToken)}
}

// Passive: 微信客服 callbacks are answered with an empty 200; every reply is
// sent with send_msg.
func (h *conformanceHarness) Passive(t testing.TB, in conformance.Inbound, status int, body []byte) []string {
	if status == http.StatusOK && len(body) != 0 {
		t.Errorf("callback answered with a body %q, want an empty 200", body)
	}
	return nil
}

func (h *conformanceHarness) Active(t testing.TB, customer string) []conformance.Sent {
	var out []conformance.Sent
	for _, c := range h.rec.Accepted("/cgi-bin/kf/send_msg") {
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
	return wecomkf.ConversationID("shop", kf, customer), message.Party{ID: customer, Role: message.RoleCustomer}
}

func windowKey(srv *apptest.Server, customer string) (*window.Tracker, string) {
	tr := window.New(srv.DB.Client, nil, srv.App.Store.Keys.Window(), nil)
	return tr, tr.Key(wecomkf.Kind, "shop", kf+"/"+customer)
}

// OpenWindow gives the customer the window a message of theirs opens: 5
// messages within 48 hours (PROTOCOLS.md §3.3).
func (h *conformanceHarness) OpenWindow(t testing.TB, srv *apptest.Server, customer string) int {
	tr, key := windowKey(srv, customer)
	if err := tr.Arm(context.Background(), key, window.KFMessage); err != nil {
		t.Fatal(err)
	}
	return window.KFMessage.Count
}

func (h *conformanceHarness) CloseWindow(t testing.TB, srv *apptest.Server, customer string) {
	tr, key := windowKey(srv, customer)
	if err := tr.Close(context.Background(), key); err != nil {
		t.Fatal(err)
	}
}

func (h *conformanceHarness) Secrets() []string { return []string{kfSecret, token, aesKey} }

// Traits: an answer takes two task hops (the pull, then the send).
func (h *conformanceHarness) Traits() conformance.Traits {
	return conformance.Traits{AnswerWait: 20 * time.Second}
}

func (h *conformanceHarness) URLCheck(t testing.TB) (*http.Request, string, bool) {
	r, err := h.signer.WeComURLCheck(kfPath, "8823051276634012")
	if err != nil {
		t.Fatal(err)
	}
	return r, "8823051276634012", true
}
