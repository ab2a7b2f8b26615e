package llm

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	openai "github.com/sashabaranov/go-openai"

	"github.com/kefu-gateway/kefu/internal/clock"
)

// fakeAPI is an OpenAI-compatible server on loopback. Each request is
// recorded and answered by reply, given the request's 1-based number.
type fakeAPI struct {
	t     *testing.T
	srv   *httptest.Server
	reply func(w http.ResponseWriter, r *http.Request, n int, body []byte)

	mu       sync.Mutex
	requests []recorded
}

type recorded struct {
	Path   string
	Header http.Header
	Body   []byte
}

func newFakeAPI(t *testing.T, reply func(w http.ResponseWriter, r *http.Request, n int, body []byte)) *fakeAPI {
	f := &fakeAPI{t: t, reply: reply}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.requests = append(f.requests, recorded{Path: r.URL.Path, Header: r.Header.Clone(), Body: body})
		n := len(f.requests)
		f.mu.Unlock()
		f.reply(w, r, n, body)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeAPI) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.requests)
}

func (f *fakeAPI) chatRequest(i int) openai.ChatCompletionRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	var req openai.ChatCompletionRequest
	if err := json.Unmarshal(f.requests[i].Body, &req); err != nil {
		f.t.Fatalf("request %d is not a chat completion: %v", i, err)
	}
	return req
}

func (f *fakeAPI) baseURL() string { return f.srv.URL + "/v1" }

func writeChat(w http.ResponseWriter, text string, prompt, completion int) {
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"id":"c1","object":"chat.completion","model":"fake-model","choices":[{"index":0,"message":{"role":"assistant","content":%q},"finish_reason":"stop"}],"usage":{"prompt_tokens":%d,"completion_tokens":%d,"total_tokens":%d}}`,
		text, prompt, completion, prompt+completion)
}

func writeSSE(w http.ResponseWriter, deltas []string, usage bool) {
	w.Header().Set("Content-Type", "text/event-stream")
	fl := w.(http.Flusher)
	for _, d := range deltas {
		fmt.Fprintf(w, "data: {\"id\":\"s1\",\"object\":\"chat.completion.chunk\",\"model\":\"fake-model\",\"choices\":[{\"index\":0,\"delta\":{\"content\":%q}}]}\n\n", d)
		fl.Flush()
	}
	fmt.Fprint(w, "data: {\"id\":\"s1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n")
	if usage {
		fmt.Fprint(w, "data: {\"id\":\"s1\",\"object\":\"chat.completion.chunk\",\"choices\":[],\"usage\":{\"prompt_tokens\":40,\"completion_tokens\":7,\"total_tokens\":47}}\n\n")
	}
	fmt.Fprint(w, "data: [DONE]\n\n")
	fl.Flush()
}

func writeStatus(w http.ResponseWriter, code int, retryAfter string) {
	if retryAfter != "" {
		w.Header().Set("Retry-After", retryAfter)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	fmt.Fprintf(w, `{"error":{"message":"status %d","type":"server_error"}}`, code)
}

// sleepRecorder records requested waits without waiting.
type sleepRecorder struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (s *sleepRecorder) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.waits = append(s.waits, d)
	s.mu.Unlock()
	return ctx.Err()
}

// recMetrics records what the client reports.
type recMetrics struct {
	mu        sync.Mutex
	requests  []string // op/outcome
	prompt    int
	complete  int
	fallbacks []string
	states    []BreakerState
}

func (m *recMetrics) ObserveRequest(op, outcome string, _ time.Duration) {
	m.mu.Lock()
	m.requests = append(m.requests, op+"/"+outcome)
	m.mu.Unlock()
}
func (m *recMetrics) AddTokens(_ string, p, c int) {
	m.mu.Lock()
	m.prompt += p
	m.complete += c
	m.mu.Unlock()
}
func (m *recMetrics) Fallback(r string) {
	m.mu.Lock()
	m.fallbacks = append(m.fallbacks, r)
	m.mu.Unlock()
}
func (m *recMetrics) BreakerState(s BreakerState) {
	m.mu.Lock()
	m.states = append(m.states, s)
	m.mu.Unlock()
}

type testEnv struct {
	client  *Client
	api     *fakeAPI
	sleeps  *sleepRecorder
	clock   *clock.Fake
	metrics *recMetrics
}

func newTestEnv(t *testing.T, cfg Config, reply func(w http.ResponseWriter, r *http.Request, n int, body []byte)) *testEnv {
	t.Helper()
	api := newFakeAPI(t, reply)
	cfg.BaseURL = api.baseURL()
	if cfg.APIKey == "" {
		cfg.APIKey = "sk-test-secret"
	}
	env := &testEnv{api: api, sleeps: &sleepRecorder{}, clock: clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)), metrics: &recMetrics{}}
	c, err := New(cfg, Options{Clock: env.clock, Sleep: env.sleeps.sleep, Metrics: env.metrics})
	if err != nil {
		t.Fatal(err)
	}
	env.client = c
	return env
}

func systemText(req openai.ChatCompletionRequest) string {
	var b strings.Builder
	for _, m := range req.Messages {
		if m.Role == RoleSystem {
			b.WriteString(m.Content)
		}
	}
	return b.String()
}
