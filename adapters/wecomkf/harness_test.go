package wecomkf

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/hibiken/asynq"
	"github.com/kefu-gateway/kefu/adapters"
	"github.com/kefu-gateway/kefu/adapters/internal/fakeplatform"
	"github.com/kefu-gateway/kefu/adapters/message"
	"github.com/kefu-gateway/kefu/internal/clock"
	"github.com/kefu-gateway/kefu/internal/metrics"
	"github.com/kefu-gateway/kefu/internal/store"
	"github.com/kefu-gateway/kefu/internal/testutil/redistest"
	"go.uber.org/zap"
	"gopkg.in/yaml.v3"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

const (
	testToken  = "kefutoken"
	testAESKey = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
	testCorpID = "ww0123456789abcdef"
)

func testAccounts(apiBase string) string {
	return `
- id: shop
  corp_id: ww0123456789abcdef
  secret: kf-secret
  token: kefutoken
  encoding_aes_key: abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG
  api_base: "` + apiBase + `"
- id: filtered
  corp_id: ww0123456789abcdef
  secret: kf-secret
  token: kefutoken
  encoding_aes_key: abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG
  open_kfids: [wkOnlyThisOne]
`
}

// recorder is an adapters.Inbound that keeps what it is given, or refuses
// everything with fail (a router that cannot reach Redis).
type recorder struct {
	mu   sync.Mutex
	msgs []message.Message
	fail error
}

func (r *recorder) Accept(_ context.Context, m message.Message) (adapters.Turn, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return nil, r.fail
	}
	r.msgs = append(r.msgs, m)
	return doneTurn{}, nil
}

func (r *recorder) failWith(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fail = err
}

func (r *recorder) messages() []message.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]message.Message(nil), r.msgs...)
}

type doneTurn struct{}

func (doneTurn) Duplicate() bool          { return false }
func (t doneTurn) Known() <-chan struct{} { return t.Done() }
func (doneTurn) TakePassive(context.Context, time.Duration) ([]message.Message, bool) {
	return nil, false
}
func (doneTurn) Return([]message.Message) {}
func (doneTurn) Done() <-chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}
func (doneTurn) Err() error { return nil }

// env is the channel mounted on a fiber app, with a recording router and
// task queue and a leased Redis database.
type env struct {
	ch    *Channel
	app   *fiber.App
	in    *recorder
	tasks *asynq.Client
	insp  *asynq.Inspector
	clock *clock.Fake
	deps  adapters.Deps
}

func newEnv(t testing.TB, accounts string, now time.Time) *env {
	t.Helper()
	var node yaml.Node
	if err := yaml.Unmarshal([]byte(accounts), &node); err != nil {
		t.Fatal(err)
	}
	db := redistest.New(t)
	e := &env{in: &recorder{}, clock: clock.NewFake(now),
		tasks: asynq.NewClientFromRedisClient(db.Client), insp: asynq.NewInspectorFromRedisClient(db.Client)}
	e.deps = adapters.Deps{Log: zap.NewNop(), Keys: store.Keys{Prefix: "kefu:"}, Inbound: e.in, Tasks: e.tasks,
		Clock: e.clock, BodyLimit: 1 << 20, Metrics: metrics.New(), Redis: db.Client}
	ch, err := New(e.deps, node.Content[0], "channels.wecom_kf")
	if err != nil {
		t.Fatal(err)
	}
	e.ch = ch.(*Channel)
	e.app = fiber.New(fiber.Config{BodyLimit: 4 << 20})
	e.ch.Mount(e.app)
	return e
}

func (e *env) do(t testing.TB, req *http.Request) (int, string) {
	t.Helper()
	resp, err := e.app.Test(req, 5000)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func signer(at time.Time) fakeplatform.CallbackSigner {
	return fakeplatform.CallbackSigner{Token: testToken, EncodingAESKey: testAESKey, ReceiveID: testCorpID, Now: func() time.Time { return at }}
}

// setBody replaces a request's body and its length.
func setBody(r *http.Request, b []byte) {
	r.Body = io.NopCloser(bytes.NewReader(b))
	r.ContentLength = int64(len(b))
	r.Header.Set("Content-Length", strconv.Itoa(len(b)))
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

var errTest = errors.New("test failure")

// queued returns the ids of the sync tasks waiting (pending or scheduled).
func (e *env) queued(t testing.TB) []string {
	t.Helper()
	var ids []string
	pending, _ := e.insp.ListPendingTasks("critical")
	scheduled, _ := e.insp.ListScheduledTasks("critical")
	for _, ti := range append(pending, scheduled...) {
		ids = append(ids, ti.ID)
	}
	return ids
}
