package handoff_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/kefu-gateway/kefu/adapters"
	"github.com/kefu-gateway/kefu/adapters/message"
	"github.com/kefu-gateway/kefu/flows"
	"github.com/kefu-gateway/kefu/handoff"
	"github.com/kefu-gateway/kefu/internal/clock"
	"github.com/kefu-gateway/kefu/internal/contacts"
	"github.com/kefu-gateway/kefu/internal/metrics"
	"github.com/kefu-gateway/kefu/internal/store"
	"github.com/kefu-gateway/kefu/internal/testutil/fakechannel"
	"github.com/kefu-gateway/kefu/internal/testutil/flowset"
	"github.com/kefu-gateway/kefu/internal/testutil/redistest"
	"github.com/kefu-gateway/kefu/router"
	"github.com/kefu-gateway/kefu/workers"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	"gopkg.in/yaml.v3"
)

const testFlows = `
flows:
  - id: greeting
    triggers: { keywords: [hi, 你好] }
    steps:
      - say: hello there
  - id: vip
    triggers: { keywords: [VIP服务] }
    steps:
      - say: 正在为您转接 VIP 专席
      - handoff: { queue: vip, reason: VIP客户 }
  - id: two
    triggers: { keywords: [two] }
    steps:
      - say: first
      - say: second
  - id: menu
    triggers: { keywords: [menu] }
    steps:
      - say: "1. 查订单 2. 退货"
  - id: survey
    triggers: { keywords: [survey] }
    steps:
      - ask: 请为刚才的人工服务打分（1-5）
        slot: score
        type: number
        min: 1
        max: 5
      - say: "感谢您的评价：{{slots.score}} 分"
`

// twoAgents is the default handoff block: Alice and Bob, one conversation each.
const twoAgents = `
agent_channel: fake
position_interval: 0s
agents:
  - { id: alice, name: Alice, wecom_user: alice-wx, wecom_app: WECOM, max_concurrent: 1 }
  - { id: bob, name: Bob, wecom_user: bob-wx, wecom_app: WECOM, max_concurrent: 1 }
`

type env struct {
	t        testing.TB
	db       *redistest.DB
	keys     store.Keys
	r        *router.Router
	svc      *handoff.Service
	set      *adapters.Set
	shop     *fakechannel.Adapter
	wecom    *fakechannel.Adapter
	shopID   string
	wecomID  string
	clock    clock.Clock
	tasks    *asynq.Client
	srv      *workers.Server
	log      *zap.Logger
	metrics  *metrics.Metrics
	contacts *contacts.Store
}

type options struct {
	// handoff is the handoff block; WECOM stands for the agents' account id.
	handoff string
	clock   clock.Clock
	// db reuses a database (the crash test's "restarted" process).
	db *redistest.DB
	// ids fixes the fake account ids (default: unique per test).
	shopID, wecomID string
	// noWorkers leaves the workers to the test.
	noWorkers bool
	// channels adds channel kinds to build (kind → YAML list).
	channels map[string]string
	// mergeWindow merges bursts on both fake accounts (as chat apps do).
	mergeWindow time.Duration
	// contacts keeps agents' tags in the contacts store (else RedisTags).
	contacts bool
	// handoffTasks wraps the handoff's task client (a failing queue).
	handoffTasks func(adapters.Enqueuer) adapters.Enqueuer
}

var accountSeq atomic.Int64

func setup(t *testing.T, o options) *env {
	t.Helper()
	return setupTB(t, o)
}

func setupTB(t testing.TB, o options) *env {
	t.Helper()
	fakechannel.Register()
	db := o.db
	if db == nil {
		db = redistest.New(t)
	}
	if o.handoff == "" {
		o.handoff = twoAgents
	}
	if o.clock == nil {
		o.clock = clock.Real{}
	}
	n := accountSeq.Add(1)
	if o.shopID == "" {
		o.shopID = fmt.Sprintf("shop%d", n)
	}
	if o.wecomID == "" {
		o.wecomID = fmt.Sprintf("wecom%d", n)
	}
	fs := flowset.Load(t, testFlows)
	log := zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))
	keys := store.Keys{Prefix: "kefu:"}
	m := metrics.New()
	tasks := asynq.NewClientFromRedisClient(db.Client)
	r := router.New(router.Defaults(), router.Deps{Redis: db.Client, Keys: keys, Log: log, Metrics: m,
		Clock: o.clock, Engine: flows.NewEngine(fs), Tasks: tasks})
	nodes := map[string]*yaml.Node{fakechannel.Kind: yamlNode(t, fmt.Sprintf("[{id: %s, merge_window: %s}, {id: %s, max_text_bytes: 2048, merge_window: %s}]",
		o.shopID, o.mergeWindow, o.wecomID, o.mergeWindow))}
	for kind, list := range o.channels {
		nodes[kind] = yamlNode(t, list)
	}
	set, err := adapters.Build(adapters.Deps{Log: log, Redis: db.Client, Keys: keys, Inbound: r, Metrics: m, Clock: o.clock}, nodes)
	if err != nil {
		t.Fatal(err)
	}
	r.SetAdapters(set)
	cfg, err := handoff.LoadConfig(yamlNode(t, strings.ReplaceAll(o.handoff, "WECOM", o.wecomID)), "test.yaml")
	if err != nil {
		t.Fatalf("handoff config: %v", err)
	}
	var tags handoff.Tagger
	var cs *contacts.Store
	if o.contacts {
		cs = contacts.NewStore(db.Client, keys, contacts.Defaults(), o.clock)
		tags = handoff.ContactTags{Store: cs}
	}
	var svcTasks adapters.Enqueuer = tasks
	if o.handoffTasks != nil {
		svcTasks = o.handoffTasks(tasks)
	}
	svc, err := handoff.New(cfg, handoff.Deps{Redis: db.Client, Keys: keys, Router: r, Adapters: set, Tasks: svcTasks,
		Flows: r, FlowExists: func(id string) bool { return fs.Flow(id) != nil },
		Clock: o.clock, Log: log, Metrics: m, Tags: tags})
	if err != nil {
		t.Fatal(err)
	}
	r.SetHooks(router.Hooks{Interceptors: []router.Interceptor{svc}, Owned: svc, Effects: svc})
	e := &env{t: t, db: db, keys: keys, r: r, svc: svc, set: set, shop: fakechannel.Get(o.shopID), wecom: fakechannel.Get(o.wecomID),
		shopID: o.shopID, wecomID: o.wecomID, clock: o.clock, tasks: tasks, log: log, metrics: m, contacts: cs}
	t.Cleanup(func() {
		_ = r.Close(context.Background())
		if e.srv != nil {
			e.srv.Shutdown()
		}
		_ = tasks.Close()
	})
	if !o.noWorkers {
		e.startWorkers()
	}
	return e
}

// startWorkers runs real asynq workers with the outbound and handoff handlers.
func (e *env) startWorkers() {
	e.t.Helper()
	srv := workers.NewServer(e.db.Client, workers.Config{Concurrency: 8, ShutdownTimeout: 2 * time.Second,
		RetryBase: 20 * time.Millisecond, RetryMax: 200 * time.Millisecond, PollInterval: 20 * time.Millisecond, IdlePoll: 20 * time.Millisecond}, e.log)
	srv.Handle(workers.TypeOutboundSend, &workers.Outbound{Lookup: e.set.Lookup, Redis: e.db.Client, Keys: e.keys, Log: e.log, Metrics: e.metrics})
	for typ, h := range e.svc.Tasks() {
		srv.Handle(typ, h)
	}
	if err := srv.Start(); err != nil {
		e.t.Fatal(err)
	}
	e.srv = srv
}

func yamlNode(t testing.TB, s string) *yaml.Node {
	t.Helper()
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(s), &n); err != nil {
		t.Fatal(err)
	}
	if len(n.Content) == 0 {
		return &n
	}
	return n.Content[0]
}

var msgSeq atomic.Int64

// conv is the conversation id of customer user on the shop account.
func (e *env) conv(user string) string { return "fake:" + e.shopID + ":" + user }

// customer sends text as customer user and waits for the turn to finish.
func (e *env) customer(user, text string) message.Message {
	e.t.Helper()
	m := e.customerMessage(user, text)
	e.accept(m)
	return m
}

// customerMessage is customer user's text message on the shop account.
func (e *env) customerMessage(user, text string) message.Message {
	return message.Message{ID: fmt.Sprintf("c%d", msgSeq.Add(1)), Channel: fakechannel.Kind, Account: e.shopID,
		ConversationID: e.conv(user), From: message.Party{ID: user, Name: "顾客" + user}, Kind: message.KindText, Text: text}
}

// askHuman sends 人工 as customer user and waits until the handoff has
// told them something (queued or greeted): the request runs after the
// turn, so customers asking one after another are otherwise handled in
// any order.
func (e *env) askHuman(user string) {
	e.t.Helper()
	before := len(sentTo(e.shop, user))
	e.customer(user, "人工")
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		for _, m := range sentTo(e.shop, user)[before:] {
			if m.From.Role == message.RoleSystem {
				return
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	e.t.Fatalf("%s asked for a human and heard nothing", user)
}

// waitStatus waits until user's handoff is in status st.
func (e *env) waitStatus(user string, st handoff.Status) {
	e.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if d, err := e.svc.Detail(context.Background(), e.conv(user)); err == nil && d != nil && d.Status == st {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	e.t.Fatalf("%s's handoff never reached %s", user, st)
}

// agent sends text as the agent with WeCom userid wx and waits for the turn.
func (e *env) agent(wx, text string) {
	e.t.Helper()
	e.accept(e.agentMessage(wx, text))
}

// agentMessage is the agent's (WeCom userid wx) text message.
func (e *env) agentMessage(wx, text string) message.Message {
	return message.Message{ID: fmt.Sprintf("a%d", msgSeq.Add(1)), Channel: fakechannel.Kind, Account: e.wecomID,
		ConversationID: "fake:" + e.wecomID + ":" + wx, From: message.Party{ID: wx}, Kind: message.KindText, Text: text}
}

func (e *env) accept(m message.Message) {
	e.t.Helper()
	if err := e.acceptErr(m); err != nil {
		e.t.Fatal(err)
	}
}

// acceptErr hands m to the router and waits for the turn; safe to call
// from other goroutines.
func (e *env) acceptErr(m message.Message) error {
	turn, err := e.r.Accept(context.Background(), m)
	if err != nil {
		return err
	}
	<-turn.Done()
	return turn.Err()
}

// request hands user's conversation to a human, as the lead's wiring of
// the 人工 command does.
func (e *env) request(user, queue string) {
	e.t.Helper()
	if err := e.svc.RequestByID(context.Background(), e.conv(user), queue, "客户要求人工"); err != nil {
		e.t.Fatal(err)
	}
}

// sentTo returns the texts a fake account sent to recipient id.
func sentTo(a *fakechannel.Adapter, id string) []message.Message {
	var out []message.Message
	for _, m := range a.Sent() {
		if m.To.ID == id {
			out = append(out, m)
		}
	}
	return out
}

// waitFor waits until a sends recipient id a message containing substr.
func (e *env) waitFor(a *fakechannel.Adapter, id, substr string) message.Message {
	e.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		for _, m := range sentTo(a, id) {
			if strings.Contains(m.Text, substr) {
				return m
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	var got []string
	for _, m := range sentTo(a, id) {
		got = append(got, m.Text)
	}
	e.t.Fatalf("%s never got a message containing %q; got:\n%s", id, substr, strings.Join(got, "\n---\n"))
	return message.Message{}
}

// waitCount waits until id got exactly n messages containing substr.
func (e *env) waitCount(a *fakechannel.Adapter, id, substr string, n int) {
	e.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for countWith(a, id, substr) < n && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	e.settle()
	if got := countWith(a, id, substr); got != n {
		e.t.Fatalf("%s got %d messages containing %q, want %d", id, got, substr, n)
	}
}

// countWith counts the messages to id containing substr.
func countWith(a *fakechannel.Adapter, id, substr string) int {
	n := 0
	for _, m := range sentTo(a, id) {
		if strings.Contains(m.Text, substr) {
			n++
		}
	}
	return n
}

// settle waits for background work (tasks) to go quiet for a moment.
func (e *env) settle() {
	e.t.Helper()
	insp := asynq.NewInspectorFromRedisClient(e.db.Client)
	deadline := time.Now().Add(5 * time.Second)
	quiet := 0
	for time.Now().Before(deadline) && quiet < 3 {
		busy := false
		qs, _ := insp.Queues()
		for _, q := range qs {
			info, err := insp.GetQueueInfo(q)
			if err == nil && (info.Pending > 0 || info.Active > 0 || info.Retry > 0) {
				busy = true
			}
		}
		if busy {
			quiet = 0
		} else {
			quiet++
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// owner reads the conversation's owner field.
func (e *env) owner(user string) string {
	o, err := e.db.Client.HGet(context.Background(), e.keys.Conversation(e.conv(user)), "o").Result()
	if err != nil && err != redis.Nil {
		e.t.Fatal(err)
	}
	return o
}

func (e *env) detail(user string) *handoff.Detail {
	e.t.Helper()
	d, err := e.svc.Detail(context.Background(), e.conv(user))
	if err != nil || d == nil {
		e.t.Fatalf("detail of %s: %v %v", user, d, err)
	}
	return d
}
