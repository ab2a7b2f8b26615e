package wecomapp

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/kefu-gateway/kefu/adapters"
	"github.com/kefu-gateway/kefu/adapters/message"
	"github.com/kefu-gateway/kefu/internal/clock"
	"github.com/kefu-gateway/kefu/internal/metrics"
	"github.com/kefu-gateway/kefu/internal/store"
	"github.com/kefu-gateway/kefu/internal/testutil/redistest"
	"go.uber.org/zap"
	"gopkg.in/yaml.v3"
)

// Settings of the golden test account.
const (
	testToken  = "kefutoken"
	testAESKey = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
	testCorpID = "ww0123456789abcdef"
	testAgent  = 1000002
)

// recorder is an adapters.Inbound that keeps what it is given.
type recorder struct {
	mu   sync.Mutex
	msgs []message.Message
	seen map[string]bool
	err  error
}

func (r *recorder) Accept(_ context.Context, m message.Message) (adapters.Turn, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return nil, r.err
	}
	if r.seen == nil {
		r.seen = map[string]bool{}
	}
	dup := r.seen[m.ID]
	r.seen[m.ID] = true
	if !dup {
		r.msgs = append(r.msgs, m)
	}
	return doneTurn{dup}, nil
}

func (r *recorder) messages() []message.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]message.Message(nil), r.msgs...)
}

type doneTurn struct{ dup bool }

func (t doneTurn) Duplicate() bool        { return t.dup }
func (t doneTurn) Known() <-chan struct{} { return t.Done() }
func (t doneTurn) TakePassive(context.Context, time.Duration) ([]message.Message, bool) {
	return nil, false
}
func (t doneTurn) Return([]message.Message) {}
func (t doneTurn) Done() <-chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}
func (t doneTurn) Err() error { return nil }

// handlerEnv is the channel mounted on a fiber app, without the router.
type handlerEnv struct {
	ch    *Channel
	app   *fiber.App
	in    *recorder
	clock *clock.Fake
}

// newHandlerEnv builds the channel from a YAML account list; Redis is leased
// only when withRedis is set.
func newHandlerEnv(t testing.TB, accounts string, now time.Time, withRedis bool) *handlerEnv {
	t.Helper()
	var node yaml.Node
	if err := yaml.Unmarshal([]byte(accounts), &node); err != nil {
		t.Fatal(err)
	}
	fc := clock.NewFake(now)
	in := &recorder{}
	deps := adapters.Deps{Log: zap.NewNop(), Keys: store.Keys{Prefix: "kefu:"}, Inbound: in, Clock: fc,
		BodyLimit: 1 << 20, Metrics: metrics.New()}
	if withRedis {
		deps.Redis = redistest.New(t).Client
	}
	ch, err := New(deps, node.Content[0], "channels.wecom_app")
	if err != nil {
		t.Fatal(err)
	}
	app := fiber.New(fiber.Config{BodyLimit: 4 << 20})
	ch.Mount(app)
	return &handlerEnv{ch: ch.(*Channel), app: app, in: in, clock: fc}
}

func (e *handlerEnv) do(t testing.TB, req *http.Request) (int, string) {
	t.Helper()
	resp, err := e.app.Test(req, 5000)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

const testAccounts = `
- id: helpdesk
  corp_id: ww0123456789abcdef
  agent_id: 1000002
  secret: app-secret
  token: kefutoken
  encoding_aes_key: abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG
- id: vector
  corp_id: wx5823bf96d3bd56c7
  agent_id: 218
  secret: vector-secret
  token: QDG6eK
  encoding_aes_key: jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C
`

var errTest = errors.New("test: router unavailable")

// setBody replaces a request's body and its length.
func setBody(r *http.Request, b []byte) {
	r.Body = io.NopCloser(bytes.NewReader(b))
	r.ContentLength = int64(len(b))
	r.Header.Set("Content-Length", strconv.Itoa(len(b)))
}
