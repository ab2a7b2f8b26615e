package wecomkf

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/kefu-gateway/kefu/adapters/internal/fakeplatform"
)

const goldenKfID = "wkAJ2GCAAASSm4_FhToWMFea0xAFfd3Q"

var goldenAt = time.Unix(1700000400, 0)

func TestURLCheckEchoesThePlaintext(t *testing.T) {
	e := newEnv(t, testAccounts(""), goldenAt)
	req, _ := signer(goldenAt).WeComURLCheck("/wecom/kf/shop", "5927148361520738475")
	if status, body := e.do(t, req); status != 200 || body != "5927148361520738475" {
		t.Fatalf("URL check = %d %q", status, body)
	}
}

// goldenCallback is the encrypted kf_msg_or_event request stored in testdata.
func goldenCallback(t *testing.T) *http.Request {
	t.Helper()
	path := "testdata/callback.enc.json"
	if *update {
		plain, _ := os.ReadFile("testdata/callback.xml")
		r, err := signer(goldenAt).WeComPush("/wecom/kf/shop", plain, "")
		if err != nil {
			t.Fatal(err)
		}
		body := new(bytes.Buffer)
		body.ReadFrom(r.Body)
		writeJSON(t, path, map[string]string{"target": r.URL.String(), "body": body.String()})
	}
	var g map[string]string
	readJSON(t, path, &g)
	return httptest.NewRequest(http.MethodPost, g["target"], strings.NewReader(g["body"]))
}

// The callback carries no message: it records the token, counts itself and
// schedules a pull under the kf account's task id, then answers at once.
func TestCallbackSchedulesOnePull(t *testing.T) {
	e := newEnv(t, testAccounts(""), goldenAt)
	start := time.Now()
	status, body := e.do(t, goldenCallback(t))
	if status != 200 || body != "" {
		t.Fatalf("callback = %d %q, want an empty 200", status, body)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("callback took %s", d)
	}
	ctx := context.Background()
	a := e.ch.accounts["shop"]
	if tok, _ := e.deps.Redis.Get(ctx, a.keys.sync(goldenKfID, "token")).Result(); tok != "ENCApHxnGDNAVNY4AaSJKj4Tb5mwsEMzxhFmHVGcra996NR" {
		t.Errorf("stored token %q", tok)
	}
	if ttl := e.deps.Redis.TTL(ctx, a.keys.sync(goldenKfID, "token")).Val(); ttl <= 0 || ttl > 10*time.Minute {
		t.Errorf("token TTL %s, want ≤ 10m", ttl)
	}
	ids := e.queued(t)
	if len(ids) != 1 || ids[0] != SyncTaskID("shop", goldenKfID) {
		t.Fatalf("queued %v", ids)
	}
	if len(e.in.messages()) != 0 {
		t.Fatal("the callback itself handed messages to the router")
	}
}

// A burst of callbacks coalesces: the queued pull takes them all, plus at
// most one follow-up per second for the case where the pull was already
// running.
func TestCallbackBurstCoalesces(t *testing.T) {
	e := newEnv(t, testAccounts(""), goldenAt)
	for i := 0; i < 20; i++ {
		if status, _ := e.do(t, goldenCallback(t)); status != 200 {
			t.Fatalf("callback %d = %d", i, status)
		}
	}
	ids := e.queued(t)
	if len(ids) < 1 || len(ids) > 3 {
		t.Fatalf("20 callbacks queued %d pulls: %v", len(ids), ids)
	}
	a := e.ch.accounts["shop"]
	if n, _ := e.deps.Redis.Get(context.Background(), a.keys.sync(goldenKfID, "seq")).Int(); n != 20 {
		t.Errorf("callback counter %d, want 20", n)
	}
}

func TestCallbackForAnUnlistedKfAccountIsIgnored(t *testing.T) {
	e := newEnv(t, testAccounts(""), goldenAt)
	plain, _ := os.ReadFile("testdata/callback.xml")
	r, _ := signer(goldenAt).WeComPush("/wecom/kf/filtered", plain, "")
	if status, _ := e.do(t, r); status != 200 {
		t.Fatalf("status %d", status)
	}
	if ids := e.queued(t); len(ids) != 0 {
		t.Fatalf("queued %v for a kf account the config does not list", ids)
	}
}

func TestBadCallbacksAreRefused(t *testing.T) {
	e := newEnv(t, testAccounts(""), goldenAt)
	plain, _ := os.ReadFile("testdata/callback.xml")
	push := func(s fakeplatform.CallbackSigner) *http.Request {
		r, err := s.WeComPush("/wecom/kf/shop", plain, "")
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	foreign := signer(goldenAt)
	foreign.ReceiveID = "wwAnotherCorp"
	forged := signer(goldenAt)
	forged.Token = "forgedtoken"
	withQuery := func(q string) *http.Request {
		r := push(signer(goldenAt))
		r.URL.RawQuery = q
		return r
	}
	withBody := func(b []byte) *http.Request {
		r := push(signer(goldenAt))
		setBody(r, b)
		return r
	}
	notKf, _ := signer(goldenAt).WeComPush("/wecom/kf/shop", []byte("<xml><ToUserName>ww0123456789abcdef</ToUserName><MsgType>event</MsgType></xml>"), "")
	cases := []struct {
		name string
		req  *http.Request
		want int
	}{
		{"unknown account", httptest.NewRequest(http.MethodPost, "/wecom/kf/nope", nil), 404},
		{"forged signature", push(forged), 401},
		{"another corp", push(foreign), 401},
		{"stale", push(signer(goldenAt.Add(-time.Hour))), 401},
		{"future", push(signer(goldenAt.Add(time.Hour))), 401},
		{"no signature", withQuery("timestamp=1700000400&nonce=1"), 400},
		{"plain body", withBody(plain), 400},
		{"truncated", withBody([]byte("<xml><Encrypt><![CDATA[abc")), 400},
		{"oversized", withBody(bytes.Repeat([]byte("a"), 1<<20+10)), 413},
		{"no event", notKf, 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if status, _ := e.do(t, tc.req); status != tc.want {
				t.Errorf("status %d, want %d", status, tc.want)
			}
		})
	}
	if ids := e.queued(t); len(ids) != 0 {
		t.Fatalf("refused callbacks queued pulls: %v", ids)
	}
}

func FuzzCallback(f *testing.F) {
	plain, _ := os.ReadFile("testdata/callback.xml")
	r, _ := signer(goldenAt).WeComPush("/wecom/kf/shop", plain, "")
	body := new(bytes.Buffer)
	body.ReadFrom(r.Body)
	f.Add(r.URL.RawQuery, body.Bytes())
	f.Add("msg_signature=zz&timestamp=1&nonce=1", []byte("<xml><Encrypt>x</Encrypt></xml>"))
	e := newEnv(f, testAccounts(""), goldenAt)
	f.Fuzz(func(t *testing.T, query string, body []byte) {
		req := httptest.NewRequest(http.MethodPost, "/wecom/kf/shop", bytes.NewReader(body))
		req.URL.RawQuery = query
		status, _ := e.do(t, req)
		switch status {
		case 200, 400, 401, 413:
		default:
			t.Fatalf("status %d", status)
		}
	})
}
