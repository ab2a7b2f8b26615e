package fakeplatform

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Request is one call a fake received.
type Request struct {
	Method string
	Path   string
	Query  url.Values
	Header http.Header
	Body   []byte
	// JSON is the decoded body when it is a JSON object, else nil.
	JSON map[string]any
	// App is the credential the call's access token belongs to ("" for
	// token calls and calls with a bad token).
	App  string
	Time time.Time
}

// String returns the request body's field as a string ("" when absent).
func (r Request) String(field string) string {
	s, _ := r.JSON[field].(string)
	return s
}

// Fault is an injected failure.
type Fault struct {
	// ErrCode and ErrMsg answer with {"errcode","errmsg"} (WeChat, WeCom,
	// DingTalk session webhooks).
	ErrCode int
	ErrMsg  string
	// Status answers with this HTTP status (and Key/ErrMsg as a DingTalk
	// {"code","message"} body, when Key is set).
	Status int
	Key    string
	// Delay holds the response back, or until the client gives up.
	Delay time.Duration
	// Times is how many calls the fault applies to; 0 means once, negative
	// means every call until ClearFaults.
	Times int
}

// core is what all fakes share: the server, the clock, the request log, the
// faults and the token registry.
type core struct {
	srv *httptest.Server

	mu       sync.Mutex
	now      func() time.Time
	requests []Request
	faults   map[string][]*Fault
	tokens   map[string]*issuedToken
	calls    map[string]int // token calls per app
	seq      int
	tokenTTL time.Duration
}

type issuedToken struct {
	app     string
	expires time.Time
	revoked bool
	stable  bool
}

func newCore(t testing.TB, h http.Handler) *core {
	c := &core{
		now:      time.Now,
		faults:   map[string][]*Fault{},
		tokens:   map[string]*issuedToken{},
		calls:    map[string]int{},
		tokenTTL: 7200 * time.Second,
	}
	c.srv = httptest.NewServer(h)
	if t != nil {
		t.Cleanup(c.srv.Close)
	}
	return c
}

// URL is the fake's base URL, to be used as an account's api_base.
func (c *core) URL() string { return c.srv.URL }

// Close shuts the server down (also done by t.Cleanup).
func (c *core) Close() { c.srv.Close() }

// SetNow replaces the fake's clock.
func (c *core) SetNow(now func() time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = now
}

// SetTokenTTL sets the lifetime of tokens issued from now on (default 7200 s).
func (c *core) SetTokenTTL(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tokenTTL = d
}

// TokenCalls returns how many tokens were requested for app (an AppID, a
// CorpID+secret label, a DingTalk AppKey; see each fake's AddApp).
func (c *core) TokenCalls(app string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls[app]
}

// ExpireTokens makes every token issued so far expired (42001).
func (c *core) ExpireTokens() {
	c.mu.Lock()
	defer c.mu.Unlock()
	past := c.now().Add(-time.Second)
	for _, t := range c.tokens {
		t.expires = past
	}
}

// RevokeTokens makes every token issued so far invalid (40001), as when
// another process fetched a new one.
func (c *core) RevokeTokens() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, t := range c.tokens {
		t.revoked = true
	}
}

// Requests returns every recorded request, oldest first.
func (c *core) Requests() []Request {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Request(nil), c.requests...)
}

// Calls returns the recorded requests to path.
func (c *core) Calls(path string) []Request {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []Request
	for _, r := range c.requests {
		if r.Path == path {
			out = append(out, r)
		}
	}
	return out
}

// Fail injects f on calls to path.
func (c *core) Fail(path string, f Fault) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if f.Times == 0 {
		f.Times = 1
	}
	c.faults[path] = append(c.faults[path], &f)
}

// ClearFaults removes every injected fault.
func (c *core) ClearFaults() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.faults = map[string][]*Fault{}
}

// record reads and logs a request and returns its log index and the next
// fault for its path, if any.
func (c *core) record(r *http.Request) (int, *Fault) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 32<<20))
	rec := Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Header: r.Header.Clone(), Body: body}
	if len(bytes.TrimSpace(body)) > 0 && bytes.TrimSpace(body)[0] == '{' {
		var m map[string]any
		if json.Unmarshal(body, &m) == nil {
			rec.JSON = m
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	rec.Time = c.now()
	idx := len(c.requests)
	c.requests = append(c.requests, rec)
	var fault *Fault
	if fs := c.faults[r.URL.Path]; len(fs) > 0 {
		f := fs[0]
		copied := *f
		fault = &copied
		if f.Times > 0 {
			f.Times--
			if f.Times == 0 {
				c.faults[r.URL.Path] = fs[1:]
			}
		}
	}
	return idx, fault
}

// setApp stores the token owner on a recorded request.
func (c *core) setApp(idx int, app string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.requests[idx].App = app
}

// request returns a recorded request.
func (c *core) request(idx int) Request {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.requests[idx]
}

// applyFault writes the fault's answer, after its delay. It reports whether
// the request was answered (Delay alone lets it continue).
func applyFault(ctx context.Context, w http.ResponseWriter, f *Fault) bool {
	if f == nil {
		return false
	}
	if f.Delay > 0 {
		select {
		case <-time.After(f.Delay):
		case <-ctx.Done():
			return true
		}
	}
	switch {
	case f.Status != 0 && f.Key != "":
		writeJSON(w, f.Status, map[string]any{"code": f.Key, "message": f.ErrMsg, "requestid": "fake"})
	case f.Status != 0:
		writeJSON(w, f.Status, map[string]any{"errcode": f.ErrCode, "errmsg": f.ErrMsg})
	case f.ErrCode != 0:
		writeErr(w, f.ErrCode, f.ErrMsg)
	default:
		return false
	}
	return true
}

// issue creates a token for app.
func (c *core) issue(app string, stable bool) (string, time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	c.calls[app]++
	value := "fake-token-" + strconv.Itoa(c.seq) + "-" + app
	c.tokens[value] = &issuedToken{app: app, expires: c.now().Add(c.tokenTTL), stable: stable}
	return value, c.tokenTTL
}

// Token check results (PROTOCOLS.md §1.6).
const (
	CodeTokenMissing = 41001
	CodeTokenInvalid = 40014
	CodeTokenExpired = 42001
	CodeTokenRevoked = 40001
)

// checkToken validates a token and returns its app, or an errcode.
func (c *core) checkToken(value string) (string, int) {
	if value == "" {
		return "", CodeTokenMissing
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	t, ok := c.tokens[value]
	switch {
	case !ok:
		return "", CodeTokenInvalid
	case t.revoked:
		return "", CodeTokenRevoked
	case !c.now().Before(t.expires):
		return "", CodeTokenExpired
	}
	return t.app, 0
}

// authorizeQuery checks the access_token query parameter of a WeChat/WeCom
// call, answering the errcode when it fails, and records the token's owner.
func (c *core) authorizeQuery(w http.ResponseWriter, r *http.Request, idx int) (string, bool) {
	app, code := c.checkToken(r.URL.Query().Get("access_token"))
	if code != 0 {
		writeErr(w, code, "invalid access_token (fake)")
		return "", false
	}
	c.setApp(idx, app)
	return app, true
}

func (c *core) clock() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now()
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeErr(w http.ResponseWriter, code int, msg string) {
	if msg == "" {
		msg = fmt.Sprintf("fake error %d", code)
	}
	writeJSON(w, http.StatusOK, map[string]any{"errcode": code, "errmsg": msg})
}

func writeOK(w http.ResponseWriter, extra map[string]any) {
	out := map[string]any{"errcode": 0, "errmsg": "ok"}
	for k, v := range extra {
		out[k] = v
	}
	writeJSON(w, http.StatusOK, out)
}
