package wechatoa_test

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
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
	"github.com/kefu-gateway/kefu/adapters/message"
	"github.com/kefu-gateway/kefu/adapters/wechatoa"
	"github.com/kefu-gateway/kefu/internal/testutil/apptest"
	"github.com/kefu-gateway/kefu/internal/testutil/redistest"
)

const (
	account   = "shop"
	appID     = "wxkefu0oa0test0001"
	appSecret = "oa-app-secret-that-must-never-be-logged"
	token     = "kefuOAtoken2024"
	aesKey    = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
	ghID      = "gh_kefu0shop0oa"
	path      = "/wechat/oa/" + account
)

// harness drives one official account in one encryption mode against the
// WeChat fake; it implements conformance.Harness and serves this package's
// own end-to-end tests.
type harness struct {
	mode string // plain | compatible | safe
	fake *fakeplatform.WeChat
	// rec sits between kefu and the fake and records accepted calls.
	rec    *conformance.Recorder
	signer fakeplatform.CallbackSigner
	// extra is YAML appended to the account's block.
	extra string
	// flowsDir overrides the conformance flows.
	flowsDir string
	// top is YAML added at the top level of the configuration.
	top string
	// unverified configures verified: false.
	unverified bool
	// budget is the passive budget. Tests keep it short: the router holds
	// its shutdown for the rest of a turn's budget.
	budget time.Duration
	// merge is the merge window (0 by default: the checks are about single
	// messages; TestBurstAnsweredOnce covers merging).
	merge time.Duration

	mu       sync.Mutex
	messaged map[string]bool
}

var _ conformance.Harness = (*harness)(nil)

func newHarness(t testing.TB, mode, extra string) *harness {
	fake := fakeplatform.NewWeChat(t)
	fake.AddApp(appID, appSecret)
	fake.EnforceWindow(true)
	s := fakeplatform.CallbackSigner{Token: token, ReceiveID: appID}
	if mode != "plain" {
		s.EncodingAESKey = aesKey
	}
	return &harness{mode: mode, fake: fake, rec: conformance.NewRecorder(t, fake.URL()), signer: s, extra: extra, budget: time.Second, messaged: map[string]bool{}}
}

func (h *harness) Kind() string    { return wechatoa.Kind }
func (h *harness) Account() string { return account }

func (h *harness) config(t testing.TB) string {
	key := ""
	if h.mode != "plain" {
		key = "encoding_aes_key: " + aesKey
	}
	dir := h.flowsDir
	if dir == "" {
		dir = conformance.FlowsDir(t)
	}
	return h.top + fmt.Sprintf(`
log: { level: debug }
http: { body_limit: %d }
flows: { dir: %q }
channels:
  wechat_oa:
    - id: %s
      app_id: %s
      app_secret: %s
      token: %s
      encryption: %s
      api_base: %s
      verified: %t
      passive_budget: %s
      merge_window: %s
      %s
%s`, conformance.BodyLimit, dir, account, appID, appSecret, token, h.mode, h.rec.URL(), !h.unverified, h.budget, h.merge, key, indent(h.extra))
}

func indent(s string) string {
	if s == "" {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i, l := range lines {
		lines[i] = "      " + l
	}
	return strings.Join(lines, "\n")
}

func (h *harness) Start(t testing.TB, db *redistest.DB) *apptest.Server {
	return apptest.Start(t, h.config(t), apptest.Options{DB: db})
}

func (h *harness) URLCheck(t testing.TB) (*http.Request, string, bool) {
	req, err := h.signer.URLCheck(path, "echo-5512345678")
	if err != nil {
		t.Fatal(err)
	}
	return req, "echo-5512345678", true
}

func msgID(t testing.TB, id string) int64 {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		t.Fatalf("message id %q: %v", id, err)
	}
	return n
}

// push builds the request carrying payload in the harness's mode: plain,
// encrypted (safe), or encrypted with the plaintext fields beside Encrypt
// (compatible, PROTOCOLS.md §1.1).
func (h *harness) push(t testing.TB, s fakeplatform.CallbackSigner, payload []byte) *http.Request {
	t.Helper()
	var req *http.Request
	var err error
	if h.mode == "plain" {
		req, err = s.PlainPush(path, payload, wxcrypto.FormatXML)
	} else {
		req, err = s.EncryptedPush(path, payload, wxcrypto.FormatXML)
	}
	if err != nil {
		t.Fatal(err)
	}
	if h.mode == "compatible" {
		body := readBody(t, req)
		env, err := wxcrypto.ParseEnvelope(body, wxcrypto.FormatXML)
		if err != nil {
			t.Fatal(err)
		}
		mixed := strings.Replace(string(payload), "</xml>", "<Encrypt><![CDATA["+env.Encrypt+"]]></Encrypt></xml>", 1)
		req = setBody(req, []byte(mixed))
	}
	return req
}

func (h *harness) Request(t testing.TB, in conformance.Inbound) *http.Request {
	h.mu.Lock()
	h.messaged[in.Customer] = true
	h.mu.Unlock()
	h.fake.CustomerMessaged(appID, in.Customer)
	return h.push(t, h.signer, fakeplatform.OAText(in.Customer, ghID, in.Text, msgID(t, in.ID), in.At))
}

func (h *harness) Forged(t testing.TB, in conformance.Inbound) *http.Request {
	s := h.signer
	s.Token = "someOtherToken"
	return h.push(t, s, fakeplatform.OAText(in.Customer, ghID, in.Text, msgID(t, in.ID), in.At))
}

func (h *harness) Stale(t testing.TB, in conformance.Inbound) *http.Request {
	s := h.signer
	s.Now = func() time.Time { return time.Now().Add(-time.Hour) }
	return h.push(t, s, fakeplatform.OAText(in.Customer, ghID, in.Text, msgID(t, in.ID), in.At))
}

// signedQuery signs an encrypted body's Encrypt value as WeChat would.
func (h *harness) signedQuery(encrypt string) string {
	ts, nonce := strconv.FormatInt(time.Now().Unix(), 10), "556677"
	q := url.Values{"signature": {wxcrypto.Signature(token, ts, nonce)}, "timestamp": {ts}, "nonce": {nonce}}
	if encrypt != "" {
		q.Set("encrypt_type", "aes")
		q.Set("msg_signature", wxcrypto.Signature(token, ts, nonce, encrypt))
	}
	return q.Encode()
}

func (h *harness) Malformed(t testing.TB) []*http.Request {
	post := func(query, body string) *http.Request {
		r, err := http.NewRequest(http.MethodPost, path+"?"+query, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		return setBody(r, []byte(body))
	}
	noSender := `<xml><ToUserName><![CDATA[gh_x]]></ToUserName><CreateTime>1</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[x]]></Content></xml>`
	if h.mode == "plain" {
		return []*http.Request{
			post(h.signedQuery(""), noSender),
			post(h.signedQuery(""), `<xml><FromUserName>o</FromUserName><MsgType>text</MsgType><CreateTime>soon</CreateTime></xml>`),
			post(h.signedQuery(""), `{"MsgType":"text"}`),
		}
	}
	c, err := wxcrypto.New(wxcrypto.Config{Token: token, EncodingAESKey: aesKey, ReceiveID: appID})
	if err != nil {
		t.Fatal(err)
	}
	notXML, _ := c.Encrypt([]byte("this decrypts fine but is not XML"))
	missing, _ := c.Encrypt([]byte(noSender))
	envelope := func(enc string) string {
		return "<xml><ToUserName>gh_x</ToUserName><Encrypt><![CDATA[" + enc + "]]></Encrypt></xml>"
	}
	return []*http.Request{
		post(h.signedQuery("%%%not-base64%%%"), envelope("%%%not-base64%%%")),
		post(h.signedQuery("QUJDRA=="), envelope("QUJDRA==")),
		post(h.signedQuery(notXML), envelope(notXML)),
		post(h.signedQuery(missing), envelope(missing)),
	}
}

// replyXML is a passive text reply.
type replyXML struct {
	ToUserName   string `xml:"ToUserName"`
	FromUserName string `xml:"FromUserName"`
	MsgType      string `xml:"MsgType"`
	Content      string `xml:"Content"`
	CreateTime   int64  `xml:"CreateTime"`
}

// openReply reads a passive reply as WeChat does: "success" or empty means
// none; otherwise (decrypted in compatible and safe mode) a text reply.
func (h *harness) openReply(t testing.TB, body []byte) (replyXML, bool) {
	t.Helper()
	if s := string(body); s == "" || s == "success" {
		return replyXML{}, false
	}
	plain := body
	if h.mode != "plain" {
		var err error
		if plain, err = h.signer.OpenReply(body, wxcrypto.FormatXML); err != nil {
			t.Fatalf("opening passive reply %q: %v", body, err)
		}
	}
	var r replyXML
	if err := xml.Unmarshal(plain, &r); err != nil {
		t.Fatalf("passive reply %q is not XML: %v", plain, err)
	}
	return r, true
}

func (h *harness) Passive(t testing.TB, in conformance.Inbound, status int, body []byte) []string {
	if status != http.StatusOK {
		return nil
	}
	r, ok := h.openReply(t, body)
	if !ok {
		return nil
	}
	if r.ToUserName != in.Customer || r.FromUserName != ghID || r.MsgType != "text" {
		t.Errorf("passive reply addressed %s→%s type %s, want %s→%s text", r.FromUserName, r.ToUserName, r.MsgType, ghID, in.Customer)
	}
	return []string{r.Content}
}

func (h *harness) Active(t testing.TB, customer string) []conformance.Sent {
	var out []conformance.Sent
	for _, r := range h.rec.Accepted("/cgi-bin/message/custom/send") {
		if r.String("touser") != customer {
			continue
		}
		text, _ := r.JSON["text"].(map[string]any)
		content, _ := text["content"].(string)
		out = append(out, conformance.Sent{Text: content, At: r.At})
	}
	return out
}

func (h *harness) Customer(customer string) (string, message.Party) {
	return wechatoa.Kind + ":" + account + ":" + customer, message.Party{ID: customer, Role: message.RoleCustomer}
}

func tracker(srv *apptest.Server) *window.Tracker {
	return window.New(srv.DB.Client, nil, srv.App.Store.Keys.Window(), nil)
}

func (h *harness) OpenWindow(t testing.TB, srv *apptest.Server, customer string) int {
	h.mu.Lock()
	h.messaged[customer] = true
	h.mu.Unlock()
	h.fake.CustomerMessaged(appID, customer)
	tr := tracker(srv)
	if err := tr.Arm(context.Background(), tr.Key(wechatoa.Kind, account, customer), window.OAMessage); err != nil {
		t.Fatal(err)
	}
	return window.OAMessage.Count
}

func (h *harness) CloseWindow(t testing.TB, srv *apptest.Server, customer string) {
	h.mu.Lock()
	messaged := h.messaged[customer]
	h.mu.Unlock()
	if messaged {
		t.Fatalf("the WeChat fake cannot close the open window of %s", customer)
	}
	tr := tracker(srv)
	if err := tr.Close(context.Background(), tr.Key(wechatoa.Kind, account, customer)); err != nil {
		t.Fatal(err)
	}
}

func (h *harness) Secrets() []string { return []string{appSecret, token, aesKey} }

func (h *harness) Traits() conformance.Traits {
	return conformance.Traits{Attempted: func(t testing.TB, customer string) int {
		n := 0
		for _, c := range h.rec.Calls("/cgi-bin/message/custom/send") {
			if c.String("touser") == customer {
				n++
			}
		}
		return n
	}}
}

func readBody(t testing.TB, r *http.Request) []byte {
	t.Helper()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func setBody(r *http.Request, body []byte) *http.Request {
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	r.ContentLength = int64(len(body))
	return r
}
