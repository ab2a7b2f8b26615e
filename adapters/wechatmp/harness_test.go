package wechatmp_test

import (
	"bytes"
	"context"
	"encoding/json"
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
	"github.com/kefu-gateway/kefu/adapters/wechatmp"
	"github.com/kefu-gateway/kefu/internal/testutil/apptest"
	"github.com/kefu-gateway/kefu/internal/testutil/redistest"
)

const (
	account   = "app"
	appID     = "wxkefu0mp0test0001"
	appSecret = "mp-app-secret-that-must-never-be-logged"
	token     = "kefuMPtoken2024"
	aesKey    = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefg"
	mpID      = "gh_kefu0mini0app"
	path      = "/wechat/mp/" + account
)

// harness drives one mini-program in one data format and encryption mode
// against the WeChat fake; it implements conformance.Harness and serves
// this package's end-to-end tests.
type harness struct {
	format wxcrypto.Format
	safe   bool
	fake   *fakeplatform.WeChat
	rec    *conformance.Recorder
	signer fakeplatform.CallbackSigner
	// extra is YAML added to the account's block; flowsDir overrides the
	// conformance flows; top is YAML added at the top level.
	extra, flowsDir, top string
	// merge is the merge window (0 by default).
	merge time.Duration

	mu       sync.Mutex
	messaged map[string]bool
}

var _ conformance.Harness = (*harness)(nil)

// newHarness takes a mode such as "json-safe" or "xml-plain".
func newHarness(t testing.TB, mode string) *harness {
	fake := fakeplatform.NewWeChat(t)
	fake.AddApp(appID, appSecret)
	fake.EnforceWindow(true)
	h := &harness{fake: fake, rec: conformance.NewRecorder(t, fake.URL()), messaged: map[string]bool{}}
	h.format = wxcrypto.FormatXML
	if strings.HasPrefix(mode, "json") {
		h.format = wxcrypto.FormatJSON
	}
	h.safe = strings.HasSuffix(mode, "safe")
	h.signer = fakeplatform.CallbackSigner{Token: token, ReceiveID: appID}
	if h.safe {
		h.signer.EncodingAESKey = aesKey
	}
	return h
}

func (h *harness) Kind() string    { return wechatmp.Kind }
func (h *harness) Account() string { return account }

func (h *harness) config(t testing.TB) string {
	key, enc := "", "plain"
	if h.safe {
		key, enc = "encoding_aes_key: "+aesKey, "safe"
	}
	dir := h.flowsDir
	if dir == "" {
		dir = conformance.FlowsDir(t)
	}
	extra := ""
	for _, l := range strings.Split(strings.TrimSpace(h.extra), "\n") {
		if l != "" {
			extra += "      " + l + "\n"
		}
	}
	return h.top + fmt.Sprintf(`
log: { level: debug }
http: { body_limit: %d }
flows: { dir: %q }
channels:
  wechat_mp:
    - id: %s
      app_id: %s
      app_secret: %s
      token: %s
      format: %s
      encryption: %s
      api_base: %s
      merge_window: %s
      %s
%s`, conformance.BodyLimit, dir, account, appID, appSecret, token, h.format, enc, h.rec.URL(), h.merge, key, extra)
}

func (h *harness) Start(t testing.TB, db *redistest.DB) *apptest.Server {
	return apptest.Start(t, h.config(t), apptest.Options{DB: db})
}

func (h *harness) URLCheck(t testing.TB) (*http.Request, string, bool) {
	req, err := h.signer.URLCheck(path, "mp-echo-20240425")
	if err != nil {
		t.Fatal(err)
	}
	return req, "mp-echo-20240425", true
}

// mpText is a text push in the harness's format.
func (h *harness) mpText(customer, text, id string, at time.Time) []byte {
	if h.format == wxcrypto.FormatJSON {
		b, _ := json.Marshal(map[string]any{"ToUserName": mpID, "FromUserName": customer, "CreateTime": at.Unix(), "MsgType": "text", "Content": text, "MsgId": json.Number(id)})
		return b
	}
	var b bytes.Buffer
	b.WriteString("<xml><ToUserName><![CDATA[" + mpID + "]]></ToUserName><FromUserName><![CDATA[" + customer + "]]></FromUserName><CreateTime>")
	b.WriteString(strconv.FormatInt(at.Unix(), 10))
	b.WriteString("</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[")
	b.WriteString(strings.ReplaceAll(text, "]]>", "]]]]><![CDATA[>"))
	b.WriteString("]]></Content><MsgId>" + id + "</MsgId></xml>")
	return b.Bytes()
}

// push builds the request carrying payload.
func (h *harness) push(t testing.TB, s fakeplatform.CallbackSigner, payload []byte) *http.Request {
	t.Helper()
	var req *http.Request
	var err error
	if h.safe {
		req, err = s.EncryptedPush(path, payload, h.format)
	} else {
		req, err = s.PlainPush(path, payload, h.format)
	}
	if err != nil {
		t.Fatal(err)
	}
	return withBody(req, readBody(t, req))
}

func (h *harness) Request(t testing.TB, in conformance.Inbound) *http.Request {
	h.mu.Lock()
	h.messaged[in.Customer] = true
	h.mu.Unlock()
	h.fake.CustomerMessaged(appID, in.Customer)
	return h.push(t, h.signer, h.mpText(in.Customer, in.Text, in.ID, in.At))
}

func (h *harness) Forged(t testing.TB, in conformance.Inbound) *http.Request {
	s := h.signer
	s.Token = "notTheToken"
	return h.push(t, s, h.mpText(in.Customer, in.Text, in.ID, in.At))
}

func (h *harness) Stale(t testing.TB, in conformance.Inbound) *http.Request {
	s := h.signer
	s.Now = func() time.Time { return time.Now().Add(-2 * time.Hour) }
	return h.push(t, s, h.mpText(in.Customer, in.Text, in.ID, in.At))
}

func (h *harness) Malformed(t testing.TB) []*http.Request {
	ts, nonce := strconv.FormatInt(time.Now().Unix(), 10), "778899"
	post := func(encrypt, body string) *http.Request {
		q := url.Values{"signature": {wxcrypto.Signature(token, ts, nonce)}, "timestamp": {ts}, "nonce": {nonce}}
		if encrypt != "" {
			q.Set("encrypt_type", "aes")
			q.Set("msg_signature", wxcrypto.Signature(token, ts, nonce, encrypt))
		}
		r, err := http.NewRequest(http.MethodPost, path+"?"+q.Encode(), nil)
		if err != nil {
			t.Fatal(err)
		}
		return withBody(r, []byte(body))
	}
	var payloads []string
	if h.format == wxcrypto.FormatJSON {
		payloads = []string{`{"ToUserName":"gh","MsgType":"text","Content":"x"}`, `[1,2,3]`, `{"FromUserName":"o","MsgType":"text","CreateTime":"soon"}`}
	} else {
		payloads = []string{`<xml><ToUserName>gh</ToUserName><MsgType>text</MsgType></xml>`, `{"FromUserName":"o"}`, `<xml><FromUserName>o</FromUserName><MsgType>text</MsgType><CreateTime>soon</CreateTime></xml>`}
	}
	if !h.safe {
		var out []*http.Request
		for _, p := range payloads {
			out = append(out, post("", p))
		}
		return out
	}
	c, err := wxcrypto.New(wxcrypto.Config{Token: token, EncodingAESKey: aesKey, ReceiveID: appID})
	if err != nil {
		t.Fatal(err)
	}
	envelope := func(enc string) string {
		if h.format == wxcrypto.FormatJSON {
			b, _ := json.Marshal(map[string]string{"ToUserName": mpID, "Encrypt": enc})
			return string(b)
		}
		return "<xml><ToUserName>" + mpID + "</ToUserName><Encrypt><![CDATA[" + enc + "]]></Encrypt></xml>"
	}
	out := []*http.Request{post("%%%", envelope("%%%")), post("QUJDRA==", envelope("QUJDRA=="))}
	for _, p := range payloads {
		enc, _ := c.Encrypt([]byte(p))
		out = append(out, post(enc, envelope(enc)))
	}
	return out
}

// Passive: a mini-program push is only ever acknowledged.
func (h *harness) Passive(t testing.TB, in conformance.Inbound, status int, body []byte) []string {
	if status == http.StatusOK && string(body) != "success" {
		t.Errorf("push answered %q, want success (mini-programs have no passive reply)", body)
		return []string{string(body)}
	}
	return nil
}

func (h *harness) Active(t testing.TB, customer string) []conformance.Sent {
	var out []conformance.Sent
	for _, r := range h.rec.Accepted("/cgi-bin/message/custom/send") {
		if r.String("touser") != customer {
			continue
		}
		var text string
		switch r.String("msgtype") {
		case "text":
			body, _ := r.JSON["text"].(map[string]any)
			text, _ = body["content"].(string)
		case "link":
			body, _ := r.JSON["link"].(map[string]any)
			text, _ = body["title"].(string)
		}
		out = append(out, conformance.Sent{Text: text, At: r.At})
	}
	return out
}

func (h *harness) Customer(customer string) (string, message.Party) {
	return wechatmp.Kind + ":" + account + ":" + customer, message.Party{ID: customer, Role: message.RoleCustomer}
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
	if err := tr.Arm(context.Background(), tr.Key(wechatmp.Kind, account, customer), window.MPMessage); err != nil {
		t.Fatal(err)
	}
	return window.MPMessage.Count
}

func (h *harness) CloseWindow(t testing.TB, srv *apptest.Server, customer string) {
	h.mu.Lock()
	messaged := h.messaged[customer]
	h.mu.Unlock()
	if messaged {
		t.Fatalf("the WeChat fake cannot close the open window of %s", customer)
	}
	tr := tracker(srv)
	if err := tr.Close(context.Background(), tr.Key(wechatmp.Kind, account, customer)); err != nil {
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

func withBody(r *http.Request, body []byte) *http.Request {
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	r.ContentLength = int64(len(body))
	return r
}
