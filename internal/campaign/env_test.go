package campaign_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/kefu-gateway/kefu/adapters"
	"github.com/kefu-gateway/kefu/adapters/message"
	"github.com/kefu-gateway/kefu/flows"
	"github.com/kefu-gateway/kefu/internal/campaign"
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

// env is a router with fake channel accounts and the engage components on
// real Redis; workers are started with startWorkers (a test may run
// several, as separate processes would).
type env struct {
	db       *redistest.DB
	keys     store.Keys
	log      *zap.Logger
	r        *router.Router
	as       *adapters.Set
	tasks    *asynq.Client
	contacts *contacts.Store
	out      *followup.Outreach
	svc      *campaign.Service
	flows    *fakeFlows
	// with builds a service like svc on another clock.
	with func(clk clock.Clock) *campaign.Service
}

type fakeFlows struct {
	mu      sync.Mutex
	started []string
}

func (f *fakeFlows) StartFlow(ctx context.Context, conv router.Conversation, flowID string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.started = append(f.started, conv.ID+"→"+flowID)
	return nil
}

func (f *fakeFlows) list() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.started...)
}

type options struct {
	contacts  func(*contacts.Config)
	campaigns func(*campaign.Config)
	limits    ratelimit.Config
	lease     time.Duration
	// embedded runs on the in-process Redis of `kefu` without redis.url.
	embedded bool
}

func setup(t testing.TB, accounts []string, o options) *env {
	t.Helper()
	fakechannel.Register()
	var db *redistest.DB
	if o.embedded {
		st, err := store.Open(context.Background(), store.Defaults(), zap.NewNop())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = st.Close() })
		db = &redistest.DB{Client: st.Client}
	} else {
		db = redistest.New(t)
	}
	set := flowset.Load(t, "flows:\n  - id: promo\n    triggers: { keywords: [promo] }\n    steps:\n      - say: 新品上架\n")
	log := zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))
	keys := store.Keys{Prefix: "kefu:"}
	m := metrics.New()
	tasks := asynq.NewClientFromRedisClient(db.Client)
	r := router.New(router.Defaults(), router.Deps{Redis: db.Client, Keys: keys, Log: log, Metrics: m, Engine: flows.NewEngine(set), Tasks: tasks})
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
		fakechannel.Get(a).Reset()
	}
	cc := contacts.Defaults()
	cc.QuietHours = contacts.QuietHours{}
	if o.contacts != nil {
		o.contacts(&cc)
	}
	if err := cc.Validate(); err != nil {
		t.Fatal(err)
	}
	kc := campaign.Defaults()
	kc.DefaultRate = ratelimit.Unlimited
	if o.campaigns != nil {
		o.campaigns(&kc)
	}
	if err := kc.Validate(); err != nil {
		t.Fatal(err)
	}
	ff := &fakeFlows{}
	e := &env{db: db, keys: keys, log: log, r: r, as: as, tasks: tasks, flows: ff}
	e.with = func(clk clock.Clock) *campaign.Service {
		cs := contacts.NewStore(db.Client, keys, cc, clk)
		out := followup.NewOutreach(followup.Deps{Redis: db.Client, Keys: keys, Contacts: cs, Lookup: as.Lookup, Recorder: r,
			Flows: ff, Limits: ratelimit.NewChannels(ratelimit.New(db.Client, keys, nil), o.limits), Clock: clk, Log: log, Metrics: m}, followup.Defaults())
		e.contacts, e.out = cs, out
		return campaign.New(campaign.Deps{Redis: db.Client, Keys: keys, Outreach: out, Tasks: tasks, Clock: clk, Log: log,
			FlowExists: func(id string) bool { return set.Flow(id) != nil }, Lease: o.lease}, kc)
	}
	e.svc = e.with(clock.Real{})
	t.Cleanup(func() {
		_ = r.Close(context.Background())
		_ = tasks.Close()
	})
	return e
}

// startWorkers runs an asynq server with the campaign handlers, as one
// worker process would; stop shuts it down after shutdownTimeout.
func (e *env) startWorkers(t testing.TB, concurrency int, shutdownTimeout time.Duration) (stop func()) {
	t.Helper()
	srv := workers.NewServer(e.db.Client, workers.Config{Concurrency: concurrency, ShutdownTimeout: shutdownTimeout,
		RetryBase: 20 * time.Millisecond, RetryMax: 200 * time.Millisecond, PollInterval: 20 * time.Millisecond}, e.log)
	for typ, h := range e.svc.Handlers() {
		srv.Handle(typ, h)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop = func() { once.Do(srv.Shutdown) }
	t.Cleanup(stop)
	return stop
}

// seed imports n contacts on a fake account: user ids u00000..., one
// conversation each; opts(i) changes contact i.
func (e *env) seed(t testing.TB, account string, n int, opts func(i int, u *contacts.Update)) []string {
	t.Helper()
	var ids []string
	for start := 0; start < n; start += contacts.MaxImport {
		var items []contacts.ImportItem
		for i := start; i < min(n, start+contacts.MaxImport); i++ {
			user := userID(i)
			it := contacts.ImportItem{Identity: contacts.Identity{Channel: fakechannel.Kind, Account: account, ID: user,
				ConversationID: "fake:" + account + ":" + user}}
			if opts != nil {
				opts(i, &it.Update)
			}
			items = append(items, it)
		}
		got, err := e.contacts.Import(context.Background(), items)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, got...)
	}
	return ids
}

func userID(i int) string { return fmt.Sprintf("u%05d", i) }

// wait polls the campaign until cond holds or d passes.
func (e *env) wait(t testing.TB, id string, d time.Duration, what string, cond func(*campaign.Progress) bool) *campaign.Progress {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		p, err := e.svc.Get(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if cond(p) {
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: %+v", what, p)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// perRecipient counts the messages each customer got from account.
func perRecipient(account string) map[string]int {
	out := map[string]int{}
	for _, m := range fakechannel.Get(account).Sent() {
		out[m.To.ID]++
	}
	return out
}

func closedFor(pred func(user string) bool) func(message.Party) adapters.Window {
	return func(p message.Party) adapters.Window {
		if pred(p.ID) {
			return adapters.Window{Open: false, Remaining: 0, Reason: "48h window closed"}
		}
		return adapters.Window{Open: true, Remaining: 5}
	}
}
