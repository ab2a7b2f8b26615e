package conformance

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kefu-gateway/kefu/internal/testutil/apptest"
	"github.com/kefu-gateway/kefu/internal/testutil/rawhttp"
)

// response is one HTTP exchange with kefu.
type response struct {
	status int
	body   []byte
	// headersAt is when the response headers arrived: the moment the
	// platform has the passive reply.
	headersAt time.Time
}

var httpClient = &http.Client{Timeout: 30 * time.Second}

// send points req at srv and performs it.
func send(t testing.TB, srv *apptest.Server, req *http.Request) response {
	t.Helper()
	req = req.Clone(context.Background())
	req.URL.Scheme = "http"
	req.URL.Host = srv.Addr
	req.Host = srv.Addr
	req.RequestURI = ""
	if req.GetBody != nil {
		body, err := req.GetBody()
		if err != nil {
			t.Fatal(err)
		}
		req.Body = body
	}
	res, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	at := time.Now()
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: reading response: %v", req.Method, req.URL.Path, err)
	}
	return response{status: res.StatusCode, body: body, headersAt: at}
}

// bodyOf reads a built request's body without consuming it.
func bodyOf(t testing.TB, req *http.Request) []byte {
	t.Helper()
	if req.GetBody != nil {
		rc, err := req.GetBody()
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		b, _ := io.ReadAll(rc)
		return b
	}
	if req.Body == nil {
		return nil
	}
	b, _ := io.ReadAll(req.Body)
	req.Body = io.NopCloser(bytes.NewReader(b))
	return b
}

// withBody returns a copy of req (query and headers kept) with body.
func withBody(req *http.Request, body []byte) *http.Request {
	out := req.Clone(context.Background())
	out.Body = io.NopCloser(bytes.NewReader(body))
	out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	out.ContentLength = int64(len(body))
	return out
}

// withLastSegment returns a copy of req whose last path segment (the
// account id) is replaced.
func withLastSegment(t testing.TB, req *http.Request, segment string) *http.Request {
	out := withBody(req, bodyOf(t, req))
	u := *req.URL
	i := strings.LastIndexByte(strings.TrimRight(u.Path, "/"), '/')
	u.Path = u.Path[:i+1] + segment
	u.RawPath = ""
	out.URL = &u
	return out
}

// collector gathers what one customer received: passive replies from HTTP
// responses and the fake platform's active sends.
type collector struct {
	h        Harness
	customer string

	mu      sync.Mutex
	passive []received
}

type received struct {
	text    string
	at      time.Time
	passive bool
}

func (c *collector) addResponse(t testing.TB, in Inbound, r response) {
	texts := c.h.Passive(t, in, r.status, r.body)
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range texts {
		c.passive = append(c.passive, received{text: s, at: r.headersAt, passive: true})
	}
}

// all returns the passive replies (first) and the active sends (in the
// order the platform received them).
func (c *collector) all(t testing.TB) []received {
	c.mu.Lock()
	out := append([]received(nil), c.passive...)
	c.mu.Unlock()
	for _, s := range c.h.Active(t, c.customer) {
		out = append(out, received{text: s.Text, at: s.At})
	}
	return out
}

// wait polls until done reports true for what was received or the wait is
// over, then keeps watching for settle and returns everything received.
func (c *collector) wait(t testing.TB, tr Traits, done func([]received) bool) []received {
	t.Helper()
	deadline := time.Now().Add(tr.AnswerWait)
	for {
		got := c.all(t)
		if done(got) || time.Now().After(deadline) {
			break
		}
		time.Sleep(25 * time.Millisecond)
	}
	time.Sleep(tr.Settle)
	return c.all(t)
}

func texts(rs []received) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.text
	}
	return out
}

// sendRaw performs req against srv over its own connection (rawhttp) and
// reads the answer even when the server stops reading the body and closes
// early, as fasthttp does for a body over its limit (an http.Client then
// reports the reset instead of the 413 that was sent).
func sendRaw(t testing.TB, srv *apptest.Server, req *http.Request) response {
	t.Helper()
	req = req.Clone(context.Background())
	req.URL.Scheme, req.URL.Host, req.Host = "http", srv.Addr, srv.Addr
	if req.GetBody != nil {
		req.Body, _ = req.GetBody()
	}
	res, err := rawhttp.Do(srv.Addr, req, 30*time.Second)
	if err != nil {
		t.Fatalf("%s %s: reading the answer: %v", req.Method, req.URL.Path, err)
	}
	at := time.Now()
	body, _ := io.ReadAll(res.Body)
	return response{status: res.StatusCode, body: body, headersAt: at}
}
