package followup_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/kefu-gateway/kefu/adapters"
	"github.com/kefu-gateway/kefu/adapters/message"
	"github.com/kefu-gateway/kefu/flows"
	"github.com/kefu-gateway/kefu/internal/clock"
	"github.com/kefu-gateway/kefu/internal/contacts"
	"github.com/kefu-gateway/kefu/internal/followup"
	"github.com/kefu-gateway/kefu/internal/metrics"
	"github.com/kefu-gateway/kefu/internal/ratelimit"
	"github.com/kefu-gateway/kefu/internal/store"
	"github.com/kefu-gateway/kefu/internal/testutil/fakechannel"
	"github.com/kefu-gateway/kefu/internal/testutil/flowset"
	"github.com/kefu-gateway/kefu/internal/testutil/redistest"
	"github.com/kefu-gateway/kefu/router"
	"github.com/kefu-gateway/kefu/workers"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	"gopkg.in/yaml.v3"
)

const testFlows = `
flows:
  - id: greeting
    triggers: { keywords: [hi] }
    steps:
      - say: hello there
  - id: whoami
    triggers: { keywords: [whoami] }
    steps:
      - say: "you are {{contact.name}}"
  - id: size
    triggers: { keywords: [尺码] }
    steps:
      - set: { contact: { size_asked: "yes" }, tags: { add: [问过尺码] } }
      - say: 我们有 S/M/L 三个尺码
      - followup: { id: size-guide, delay: 1h, text: 尺码表在这里, cancel_on_reply: false }
  - id: enough
    triggers: { keywords: [不用了] }
    steps:
      - set: { tags: { remove: [问过尺码] } }
      - followup: { cancel: size-guide }
      - say: 好的
`

// env is a router with fake channel accounts, the engage interceptor and
// real asynq workers running outbound and follow-up tasks on real Redis.
type env struct {
	db       *redistest.DB
	keys     store.Keys
	clk      *clock.Fake
	r        *router.Router
	contacts *contacts.Store
	sched    *followup.Scheduler
	flows    *fakeFlows
	metrics  *metrics.Metrics
	// at builds a scheduler like sched whose clock is clk.
	at func(clk *clock.Fake) *followup.Scheduler
}

type fakeFlows struct {
	mu      sync.Mutex
	started []string
	// fail makes StartFlow fail in a conversation.
	fail map[string]error
}

func (f *fakeFlows) StartFlow(ctx context.Context, conv router.Conversation, flowID string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail[conv.ID]; err != nil {
		return err
	}
	f.started = append(f.started, conv.ID+"→"+flowID)
	return nil
}

func (f *fakeFlows) setFail(conv string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail == nil {
		f.fail = map[string]error{}
	}
	f.fail[conv] = err
}

// list returns the flows started in conversations whose id starts with prefix.
func (f *fakeFlows) list(prefix string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, s := range f.started {
		if strings.HasPrefix(s, prefix) {
			out = append(out, s)
		}
	}
	return out
}

// setup builds the env; limits, when given, are the rate_limits block.
func setup(t testing.TB, accounts []string, fcfg func(*followup.Config), ccfg func(*contacts.Config), limits ...ratelimit.Config) *env {
	t.Helper()
	fakechannel.Register()
	db := redistest.New(t)
	set := flowset.Load(t, testFlows)
	log := zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))
	keys := store.Keys{Prefix: "kefu:"}
	m := metrics.New()
	tasks := asynq.NewClientFromRedisClient(db.Client)
	clk := clock.NewFake(time.Now())
	r := router.New(router.Defaults(), router.Deps{Redis: db.Client, Keys: keys, Log: log, Metrics: m, Engine: flows.NewEngine(set), Tasks: tasks, Clock: clk})
	list := ""
	for _, a := range accounts {
		list += fmt.Sprintf("{id: %s},", a)
	}
	var node yaml.Node
	if err := yaml.Unmarshal([]byte("["+list+"]"), &node); err != nil {
		t.Fatal(err)
	}
	as, err := adapters.Build(adapters.Deps{Log: log, Redis: db.Client, Keys: keys, Inbound: r, Metrics: m}, map[string]*yaml.Node{fakechannel.Kind: node.Content[0]})
	if err != nil {
		t.Fatal(err)
	}
	r.SetAdapters(as)
	for _, a := range accounts {
		fakechannel.Get(strings.TrimSpace(strings.SplitN(a, ",", 2)[0])).Reset()
	}

	cc := contacts.Defaults()
	// The default quiet hours (22:00-08:00) are kept, in a zone where it
	// is now early afternoon, so that no test's sends wait for the morning
	// whenever the suite runs; a test about quiet hours gives its contact
	// another zone.
	cc.Timezone = zoneAt(time.Now(), 14)
	if ccfg != nil {
		ccfg(&cc)
	}
	if err := cc.Validate(); err != nil {
		t.Fatal(err)
	}
	fc := followup.Defaults()
	if fcfg != nil {
		fcfg(&fc)
	}
	if err := fc.Validate(); err != nil {
		t.Fatal(err)
	}
	cs := contacts.NewStore(db.Client, keys, cc, clk)
	ff := &fakeFlows{}
	rl := ratelimit.Config{}
	if len(limits) > 0 {
		rl = limits[0]
	}
	channelLimits := ratelimit.NewChannels(ratelimit.New(db.Client, keys, nil), rl)
	at := func(clk *clock.Fake) *followup.Scheduler {
		cs := contacts.NewStore(db.Client, keys, cc, clk)
		out := followup.NewOutreach(followup.Deps{Redis: db.Client, Keys: keys, Contacts: cs, Lookup: as.Lookup, Recorder: r,
			Flows: ff, Limits: channelLimits, Clock: clk, Log: log, Metrics: m}, fc)
		return followup.NewScheduler(out, tasks, asynq.NewInspectorFromRedisClient(db.Client))
	}
	sched := at(clk)
	r.SetHooks(router.Hooks{Interceptors: []router.Interceptor{followup.NewInbound(cs, r, db.Client, keys, log, m)},
		Effects: &followup.Effects{Scheduler: sched, Contacts: cs}})

	srv := workers.NewServer(db.Client, workers.Config{Concurrency: 4, ShutdownTimeout: 2 * time.Second,
		RetryBase: 20 * time.Millisecond, RetryMax: 100 * time.Millisecond, PollInterval: 50 * time.Millisecond}, log)
	srv.Handle(workers.TypeOutboundSend, &workers.Outbound{Lookup: as.Lookup, Redis: db.Client, Keys: keys, Log: log, Metrics: m})
	srv.Handle(followup.TypeSend, sched)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = r.Close(context.Background())
		srv.Shutdown()
		_ = tasks.Close()
	})
	return &env{db: db, keys: keys, clk: clk, r: r, contacts: cs, sched: sched, flows: ff, at: at, metrics: m}
}

func conv(account, user string) router.Conversation {
	return router.Conversation{ID: "fake:" + account + ":" + user, Channel: fakechannel.Kind, Account: account,
		Customer: message.Party{ID: user, Role: message.RoleCustomer}}
}

var msgSeq atomic.Int64

// say has the customer write text through the router and waits for the turn.
func (e *env) say(t *testing.T, account, user, text string) {
	t.Helper()
	m := message.Message{ID: fmt.Sprintf("in-%d", msgSeq.Add(1)), Channel: fakechannel.Kind, Account: account,
		ConversationID: "fake:" + account + ":" + user, From: message.Party{ID: user}, Kind: message.KindText, Text: text}
	turn, err := e.r.Accept(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	<-turn.Done()
}

func (e *env) schedule(t *testing.T, c router.Conversation, f followup.Followup) *followup.Record {
	t.Helper()
	rec, err := e.sched.Schedule(context.Background(), c, f)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

// record waits until the follow-up reaches a finished status (or d passes).
func (e *env) record(t *testing.T, contactID, key string, d time.Duration) *followup.Record {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		recs, err := e.sched.List(context.Background(), contactID)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			if r.Key == key && (r.Status != followup.StatusScheduled && r.Status != followup.StatusSending || time.Now().After(deadline)) {
				return r
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("follow-up %s not found", key)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (e *env) transcript(t *testing.T, convID string) []message.Message {
	t.Helper()
	ms, err := router.NewTranscriptReader(e.db.Client, e.keys).After(context.Background(), convID, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

func texts(ms []message.Message) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Text
	}
	return out
}
