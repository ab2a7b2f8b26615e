package wecomapp

import (
	"bytes"
	"encoding/json"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kefu-gateway/kefu/adapters/internal/fakeplatform"
	"github.com/kefu-gateway/kefu/adapters/message"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// Tencent's published WeCom sample (PROTOCOLS.md §0): the URL check of
// 2014-09-03 must answer the decrypted echostr, byte for byte.
func TestURLCheckWithTencentVector(t *testing.T) {
	env := newHandlerEnv(t, testAccounts, time.Unix(1409659589, 0), false)
	target := "/wecom/app/vector?msg_signature=5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3&timestamp=1409659589&nonce=263014780" +
		"&echostr=P9nAzCzyDtyTWESHep1vC5X9xho%2FqYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp%2B4RPcs8TgAE7OaBO%2BFZXvnaqQ%3D%3D"
	start := time.Now()
	status, body := env.do(t, httptest.NewRequest(http.MethodGet, target, nil))
	if status != 200 || body != "1616140317555161061" {
		t.Fatalf("URL check = %d %q, want 200 %q (no quotes, BOM or newline)", status, body, "1616140317555161061")
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("URL check took %s; WeCom allows 1 s", d)
	}
	// The same request checked by another corp's account fails: the token differs.
	status, _ = env.do(t, httptest.NewRequest(http.MethodGet, strings.Replace(target, "/vector", "/helpdesk", 1), nil))
	if status != 401 {
		t.Errorf("vector against another account = %d, want 401", status)
	}
}

// The sample POST of the same document decrypts to a text message from
// "mycreate" to AgentID 218.
func TestPostWithTencentVector(t *testing.T) {
	env := newHandlerEnv(t, testAccounts, time.Unix(1409659813, 0), false)
	body, err := os.ReadFile("testdata/vector_post.xml")
	if err != nil {
		t.Fatal(err)
	}
	target := "/wecom/app/vector?msg_signature=477715d11cdb4164915debcba66cb864d751f3e6&timestamp=1409659813&nonce=1372623149"
	status, resp := env.do(t, httptest.NewRequest(http.MethodPost, target, bytes.NewReader(body)))
	if status != 200 || resp != "" {
		t.Fatalf("POST = %d %q, want an empty 200", status, resp)
	}
	msgs := env.in.messages()
	if len(msgs) != 1 {
		t.Fatalf("router got %d messages, want 1", len(msgs))
	}
	m := msgs[0]
	if m.ID != "4561255354251345929" || m.Kind != message.KindText || m.Text != "hello" || m.From.ID != "mycreate" ||
		m.ConversationID != "wecom_app:vector:mycreate" || m.Meta["agent_id"] != "218" {
		t.Errorf("normalized vector message = %+v", m)
	}
	// A day later the same request is a replay.
	env.clock.Advance(24 * time.Hour)
	status, _ = env.do(t, httptest.NewRequest(http.MethodPost, target, bytes.NewReader(body)))
	if status != 401 {
		t.Errorf("replayed a day later = %d, want 401", status)
	}
}

// goldenSigner signs and encrypts callbacks as WeCom does, reproducibly.
func goldenSigner(at time.Time) fakeplatform.CallbackSigner {
	return fakeplatform.CallbackSigner{Token: testToken, EncodingAESKey: testAESKey, ReceiveID: testCorpID, Now: func() time.Time { return at }}
}

// goldenRequest is an encrypted callback as stored in testdata.
type goldenRequest struct {
	Target string `json:"target"`
	Body   string `json:"body"`
}

// Every golden plaintext is sent encrypted (the stored *.enc.json request,
// regenerated with -update) and must normalize to its *.want.json.
func TestGoldenCallbacks(t *testing.T) {
	at := time.Unix(1700000000, 0)
	env := newHandlerEnv(t, testAccounts, at, false)
	plains, _ := filepath.Glob("testdata/callbacks/*.xml")
	if len(plains) == 0 {
		t.Fatal("no golden callbacks")
	}
	for _, p := range plains {
		name := strings.TrimSuffix(filepath.Base(p), ".xml")
		t.Run(name, func(t *testing.T) {
			encPath := strings.TrimSuffix(p, ".xml") + ".enc.json"
			if *update {
				plain, _ := os.ReadFile(p)
				req, err := goldenSigner(at).WeComPush("/wecom/app/helpdesk", plain, "1000002")
				if err != nil {
					t.Fatal(err)
				}
				body := new(bytes.Buffer)
				body.ReadFrom(req.Body)
				writeJSON(t, encPath, goldenRequest{Target: req.URL.String(), Body: body.String()})
			}
			var g goldenRequest
			readJSON(t, encPath, &g)
			before := len(env.in.messages())
			status, _ := env.do(t, httptest.NewRequest(http.MethodPost, g.Target, strings.NewReader(g.Body)))
			msgs := env.in.messages()
			if status != 200 || len(msgs) != before+1 {
				t.Fatalf("status %d, %d new messages", status, len(msgs)-before)
			}
			got := msgs[len(msgs)-1]
			got.Raw = nil
			wantPath := strings.TrimSuffix(p, ".xml") + ".want.json"
			if *update {
				writeJSON(t, wantPath, got)
			}
			var want message.Message
			readJSON(t, wantPath, &want)
			gb, _ := json.Marshal(got)
			wb, _ := json.Marshal(want)
			if !bytes.Equal(gb, wb) {
				t.Errorf("normalized message\n got %s\nwant %s", gb, wb)
			}
		})
	}
}

func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update once)", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}

// Bad requests get the right status and never reach the router.
func TestBadCallbacksAreRefused(t *testing.T) {
	at := time.Unix(1700000000, 0)
	env := newHandlerEnv(t, testAccounts, at, false)
	plain, _ := os.ReadFile("testdata/callbacks/text.xml")
	good := func() *http.Request {
		r, err := goldenSigner(at).WeComPush("/wecom/app/helpdesk", plain, "1000002")
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	mutate := func(f func(r *http.Request)) *http.Request {
		r := good()
		f(r)
		return r
	}
	setQuery := func(key, value string) func(r *http.Request) {
		return func(r *http.Request) {
			q := r.URL.Query()
			q.Set(key, value)
			r.URL.RawQuery = q.Encode()
		}
	}
	other := goldenSigner(at)
	other.ReceiveID = "wwSomeOtherCorp"
	foreign, _ := other.WeComPush("/wecom/app/helpdesk", plain, "1000002")
	stale := goldenSigner(at.Add(-10 * time.Minute))
	staleReq, _ := stale.WeComPush("/wecom/app/helpdesk", plain, "1000002")
	future := goldenSigner(at.Add(10 * time.Minute))
	futureReq, _ := future.WeComPush("/wecom/app/helpdesk", plain, "1000002")
	wrongToken := goldenSigner(at)
	wrongToken.Token = "othertoken"
	forged, _ := wrongToken.WeComPush("/wecom/app/helpdesk", plain, "1000002")

	cases := []struct {
		name string
		req  *http.Request
		want int
	}{
		{"unknown account", mutate(func(r *http.Request) { r.URL.Path = "/wecom/app/nope" }), 404},
		{"wrong msg_signature", mutate(setQuery("msg_signature", strings.Repeat("0", 40))), 401},
		{"signed with another token", forged, 401},
		{"another corp's payload", foreign, 401},
		{"stale timestamp", staleReq, 401},
		{"future timestamp", futureReq, 401},
		{"missing signature", mutate(func(r *http.Request) { r.URL.RawQuery = "timestamp=1700000000&nonce=1" }), 400},
		{"malformed signature", mutate(setQuery("msg_signature", "xyz")), 400},
		{"plain body", mutate(func(r *http.Request) {
			setBody(r, plain)
		}), 400},
		{"truncated body", mutate(func(r *http.Request) {
			b := new(bytes.Buffer)
			b.ReadFrom(r.Body)
			setBody(r, b.Bytes()[:b.Len()/2])
		}), 400},
		{"empty body", mutate(func(r *http.Request) { setBody(r, nil) }), 400},
		{"oversized body", mutate(func(r *http.Request) {
			setBody(r, bytes.Repeat([]byte("x"), 1<<20+1))
		}), 413},
		{"URL check with a forged signature", mutate(func(r *http.Request) {
			r.Method = http.MethodGet
			r.URL.RawQuery = "msg_signature=" + strings.Repeat("a", 40) + "&timestamp=1700000000&nonce=1&echostr=abcd"
			setBody(r, nil)
		}), 401},
		{"URL check without echostr", mutate(func(r *http.Request) {
			r.Method = http.MethodGet
			setBody(r, nil)
		}), 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, _ := env.do(t, tc.req)
			if status != tc.want {
				t.Errorf("status = %d, want %d", status, tc.want)
			}
		})
	}
	if n := len(env.in.messages()); n != 0 {
		t.Fatalf("%d refused requests reached the router", n)
	}
	// The good request still works, and its retry is accepted without a
	// second message.
	for i := 0; i < 2; i++ {
		if status, _ := env.do(t, good()); status != 200 {
			t.Fatalf("good request = %d", status)
		}
	}
	if n := len(env.in.messages()); n != 1 {
		t.Fatalf("router got %d messages from a request and its retry, want 1", n)
	}
}

// A router that cannot take the message makes the callback fail with a 5xx,
// so WeCom retries.
func TestRouterFailureAsksForRetry(t *testing.T) {
	at := time.Unix(1700000000, 0)
	env := newHandlerEnv(t, testAccounts, at, false)
	env.in.err = errTest
	plain, _ := os.ReadFile("testdata/callbacks/text.xml")
	r, _ := goldenSigner(at).WeComPush("/wecom/app/helpdesk", plain, "1000002")
	if status, _ := env.do(t, r); status != 503 {
		t.Fatalf("status = %d, want 503", status)
	}
}

func FuzzCallback(f *testing.F) {
	at := time.Unix(1700000000, 0)
	plain, _ := os.ReadFile("testdata/callbacks/text.xml")
	req, _ := goldenSigner(at).WeComPush("/wecom/app/helpdesk", plain, "1000002")
	body := new(bytes.Buffer)
	body.ReadFrom(req.Body)
	f.Add(req.URL.RawQuery, body.Bytes())
	f.Add("msg_signature=&timestamp=1&nonce=1", []byte("<xml><Encrypt>AAAA</Encrypt></xml>"))
	f.Add("timestamp=99999999999999999999&nonce=%zz", []byte("<xml>"))
	env := newHandlerEnv(f, testAccounts, at, false)
	f.Fuzz(func(t *testing.T, query string, body []byte) {
		r := httptest.NewRequest(http.MethodPost, "/wecom/app/helpdesk", bytes.NewReader(body))
		r.URL.RawQuery = query
		before := len(env.in.messages())
		status, _ := env.do(t, r)
		switch status {
		case 200, 400, 401, 413:
		default:
			t.Fatalf("status %d", status)
		}
		if status != 200 && len(env.in.messages()) != before {
			t.Fatal("a refused request reached the router")
		}
	})
}
