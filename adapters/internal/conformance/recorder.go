package conformance

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sort"
	"sync"
	"testing"
	"time"
)

// Recorder is a reverse proxy in front of a fake platform that records every
// call with whether the platform accepted it: a 2xx answer without a
// non-zero errcode. A harness points the account's api_base at it so Active
// reports what the customer really received, not the sends the platform
// refused (45015, 45047, an expired token, an injected fault), and
// Traits.Attempted can count the refused ones too.
type Recorder struct {
	srv *httptest.Server

	mu    sync.Mutex
	calls []Call
}

// Call is one accepted call.
type Call struct {
	Path string
	// Body is the request body; JSON its decoded form when it is a JSON
	// object.
	Body []byte
	JSON map[string]any
	// At is when the call reached the recorder.
	At time.Time
	// Accepted is true when the platform answered 2xx without an errcode.
	Accepted bool
}

// String returns a top-level string field of the JSON body.
func (c Call) String(field string) string {
	s, _ := c.JSON[field].(string)
	return s
}

type callKey struct{}

func contextWithCall(req *http.Request, call *Call) context.Context {
	return context.WithValue(req.Context(), callKey{}, call)
}

// NewRecorder starts a recorder forwarding to target (the fake's URL),
// closed when the test ends.
func NewRecorder(t testing.TB, target string) *Recorder {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	r := &Recorder{}
	proxy := httputil.NewSingleHostReverseProxy(u)
	proxy.ModifyResponse = func(res *http.Response) error {
		call, _ := res.Request.Context().Value(callKey{}).(*Call)
		body, err := io.ReadAll(res.Body)
		if err != nil {
			return err
		}
		res.Body = io.NopCloser(bytes.NewReader(body))
		if call == nil {
			return nil
		}
		var status struct {
			ErrCode *int `json:"errcode"`
		}
		refused := json.Unmarshal(body, &status) == nil && status.ErrCode != nil && *status.ErrCode != 0
		call.Accepted = res.StatusCode >= 200 && res.StatusCode <= 299 && !refused
		r.mu.Lock()
		r.calls = append(r.calls, *call)
		r.mu.Unlock()
		return nil
	}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		call := &Call{Path: req.URL.Path, Body: body, At: time.Now()}
		if len(bytes.TrimSpace(body)) > 0 && bytes.TrimSpace(body)[0] == '{' {
			_ = json.Unmarshal(body, &call.JSON)
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
		req = req.WithContext(contextWithCall(req, call))
		proxy.ServeHTTP(w, req)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// URL is the recorder's base URL, to use as an account's api_base.
func (r *Recorder) URL() string { return r.srv.URL }

// Accepted returns the accepted calls to path, oldest first.
func (r *Recorder) Accepted(path string) []Call {
	var out []Call
	for _, c := range r.Calls(path) {
		if c.Accepted {
			out = append(out, c)
		}
	}
	return out
}

// Calls returns every call to path that got an answer, accepted or
// refused, oldest first.
func (r *Recorder) Calls(path string) []Call {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Call
	for _, c := range r.calls {
		if c.Path == path {
			out = append(out, c)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].At.Before(out[j].At) })
	return out
}
