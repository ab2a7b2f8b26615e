package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/kefu-gateway/kefu/adapters"
	"github.com/kefu-gateway/kefu/flows"
	"github.com/kefu-gateway/kefu/internal/clock"
	"github.com/kefu-gateway/kefu/internal/config"
	"github.com/kefu-gateway/kefu/internal/knowledge"
	"github.com/kefu-gateway/kefu/internal/llm"
	"github.com/kefu-gateway/kefu/internal/metrics"
	"github.com/kefu-gateway/kefu/internal/pubsub"
	"github.com/kefu-gateway/kefu/internal/store"
	"github.com/kefu-gateway/kefu/router"
	"github.com/kefu-gateway/kefu/workers"
	"go.uber.org/zap"

	"github.com/gofiber/fiber/v2"
)

// Options choose what a process runs.
type Options struct {
	// HTTP serves the endpoints (kefu serve).
	HTTP bool
	// Workers runs the asynq task handlers in this process.
	Workers bool
	// Clock is injected in tests; nil = wall clock.
	Clock clock.Clock
}

// App is an assembled kefu process.
type App struct {
	Cfg       *Config
	Log       *zap.Logger
	Store     *store.Store
	Metrics   *metrics.Metrics
	Router    *router.Router
	Adapters  *adapters.Set
	Hub       *pubsub.Hub
	Engine    *flows.Engine
	Knowledge *knowledge.Service
	Gaps      *knowledge.Gaps
	LLM       *llm.Client
	Tasks     *asynq.Client
	Inspector *asynq.Inspector
	Workers   *workers.Server
	HTTP      *fiber.App

	// admin are the components with operator API routes.
	admin  []AdminMounter
	engage *engage

	opts     Options
	stopOnce sync.Once
	cancel   context.CancelFunc
	bg       sync.WaitGroup
}

// New assembles kefu. It connects to Redis (or starts the embedded one) and
// loads the flows; configuration problems are returned, never logged fatally.
func New(ctx context.Context, cfg *Config, log *zap.Logger, opts Options) (*App, error) {
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	// A flows or knowledge directory that is not there (a typo, kefu run
	// from another folder) would leave messages to the fallback ("I can't
	// answer that") without a word at start.
	if err := config.Join(mustBeDir("flows.dir", cfg.Flows.Dir), mustBeDir("knowledge.dir", cfg.Knowledge.Dir)); err != nil {
		return nil, err
	}
	a := &App{Cfg: cfg, Log: log, opts: opts, Metrics: metrics.New()}
	st, err := store.Open(ctx, cfg.Redis, log)
	if err != nil {
		return nil, err
	}
	a.Store = st
	st.Client.AddHook(a.Metrics.RedisHook())
	if st.Embedded && !opts.Workers {
		log.Warn("running workers in this process anyway: the embedded Redis cannot be shared with `kefu worker`")
		a.opts.Workers = true
	}

	set, err := flows.LoadDir(cfg.Flows.Dir)
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("loading flows from %s:\n%w", cfg.Flows.Dir, err)
	}
	a.Engine = flows.NewEngine(set, flows.WithConfig(cfg.Flows))
	if err := a.newKnowledge(ctx); err != nil {
		st.Close()
		return nil, err
	}
	a.Tasks = asynq.NewClientFromRedisClient(st.Client)
	a.Inspector = asynq.NewInspectorFromRedisClient(st.Client)
	a.Hub = pubsub.New(st.Client, st.Keys, log)
	// One batcher for the hot path: the router's turns and the channels'
	// reply-window grants share pipelines.
	batch := store.NewBatcher(st.Client)
	a.Router = router.New(cfg.Router, router.Deps{
		Redis: st.Client, Batch: batch, Keys: st.Keys, Log: log, Metrics: a.Metrics, Clock: opts.Clock,
		Engine: a.Engine, Runner: flows.NewRunner(a.Engine, flows.NewHTTPClient(cfg.Flows), log),
		Tasks: a.Tasks, Timers: a.Inspector,
		Knowledge: a.Knowledge, Gaps: a.Gaps, LLM: a.LLM,
	})
	a.Router.SetVars(map[string]string{"self_url": selfURL(cfg.HTTP, "")})

	nodes := cfg.channelNodes()
	a.Adapters, err = adapters.Build(adapters.Deps{
		Log: log, Redis: st.Client, Batch: batch, Keys: st.Keys, Inbound: a.Router,
		Transcripts: router.NewTranscriptReader(st.Client, st.Keys), Hub: a.Hub, Tasks: a.Tasks,
		Metrics: a.Metrics, Clock: opts.Clock, ConfigFile: cfg.File, BodyLimit: cfg.HTTP.BodyLimit,
		PublicURL: cfg.HTTP.PublicURL, ShutdownTimeout: cfg.HTTP.ShutdownTimeout,
	}, nodes)
	if err != nil {
		a.closeStorage()
		return nil, err
	}
	a.Router.SetAdapters(a.Adapters)
	if err := a.newEngage(); err != nil {
		a.closeStorage()
		return nil, err
	}

	if a.opts.Workers {
		a.Workers = workers.NewServer(st.Client, cfg.Workers, log)
		a.registerTasks()
	}
	if opts.HTTP {
		a.HTTP = a.newHTTP()
	}
	return a, nil
}

func (a *App) registerTasks() {
	a.Workers.Handle(workers.TypeOutboundSend, &workers.Outbound{
		Lookup: a.Adapters.Lookup, Redis: a.Store.Client, Keys: a.Store.Keys, Log: a.Log, Metrics: a.Metrics,
	})
	a.Workers.Handle(workers.TypeFlowTimer, asynq.HandlerFunc(a.Router.HandleFlowTimer))
	a.registerEngageTasks()
	for _, ch := range a.Adapters.Channels() {
		if tp, ok := ch.(adapters.TaskProvider); ok {
			for typ, h := range tp.Tasks() {
				a.Workers.Handle(typ, h)
			}
		}
	}
}

// Start runs the background parts (pub/sub hub, channel runners, workers)
// and, when ln is non-nil, serves HTTP on it. It returns at once.
func (a *App) Start(ln net.Listener) error {
	ctx, cancel := context.WithCancel(context.Background())
	a.cancel = cancel
	a.bg.Add(1)
	go func() {
		defer a.bg.Done()
		_ = a.Hub.Run(ctx)
	}()
	a.bg.Add(1)
	go func() {
		defer a.bg.Done()
		_ = a.Knowledge.Run(ctx)
	}()
	a.bg.Add(1)
	go func() {
		defer a.bg.Done()
		flows.NewWatcher(a.Cfg.Flows.Dir, a.Engine, a.Cfg.Flows.ReloadInterval, a.Log).Run(ctx)
	}()
	for _, ch := range a.Adapters.Channels() {
		if r, ok := ch.(adapters.Runner); ok {
			a.bg.Add(1)
			go func() {
				defer a.bg.Done()
				if err := r.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
					a.Log.Error("channel runner stopped", zap.Error(err))
				}
			}()
		}
	}
	if a.Workers != nil {
		if err := a.Workers.Start(); err != nil {
			return err
		}
	}
	if ln != nil && a.HTTP != nil {
		a.Router.SetVars(map[string]string{"self_url": selfURL(a.Cfg.HTTP, ln.Addr().String())})
		a.bg.Add(1)
		go func() {
			defer a.bg.Done()
			if err := a.HTTP.Listener(ln); err != nil {
				a.Log.Error("http server stopped", zap.Error(err))
			}
		}()
	}
	return nil
}

// Run starts everything, serving HTTP on http.addr when enabled, and shuts
// down gracefully when ctx ends.
func (a *App) Run(ctx context.Context) error {
	var ln net.Listener
	if a.HTTP != nil {
		var err error
		ln, err = net.Listen("tcp", a.Cfg.HTTP.Addr)
		if err != nil {
			return fmt.Errorf("listening on %s: %w", a.Cfg.HTTP.Addr, err)
		}
		a.Log.Info("kefu serving", zap.String("addr", ln.Addr().String()), zap.Bool("workers", a.Workers != nil),
			zap.Bool("embedded_redis", a.Store.Embedded), zap.Strings("channels", adapters.Kinds()))
	} else {
		a.Log.Info("kefu worker running", zap.Bool("embedded_redis", a.Store.Embedded))
	}
	if err := a.Start(ln); err != nil {
		a.Shutdown(context.Background())
		return err
	}
	<-ctx.Done()
	a.Log.Info("shutting down: finishing requests, turns and tasks in flight")
	a.Shutdown(context.Background())
	return nil
}

// Shutdown stops in order: live connections are told to go (they reconnect
// elsewhere), requests in flight finish, turns in flight finish, running
// tasks finish (unfinished ones return to the queue), then storage closes.
func (a *App) Shutdown(ctx context.Context) {
	a.stopOnce.Do(func() {
		a.Hub.Close()
		if a.HTTP != nil {
			if err := a.HTTP.ShutdownWithTimeout(a.Cfg.HTTP.ShutdownTimeout); err != nil {
				a.Log.Warn("http shutdown", zap.Error(err))
			}
		}
		rctx, cancel := context.WithTimeout(ctx, a.Cfg.Router.TurnTimeout)
		if err := a.Router.Close(rctx); err != nil {
			a.Log.Warn("router shutdown", zap.Error(err))
		}
		cancel()
		if a.Workers != nil {
			a.Workers.Shutdown()
		}
		if a.cancel != nil {
			a.cancel()
		}
		waitTimeout(&a.bg, 5*time.Second)
		a.closeStorage()
		_ = a.Log.Sync()
	})
}

// newKnowledge builds the LLM client (disabled without llm.base_url) and
// the knowledge base, hybrid when an embedding model is configured.
func (a *App) newKnowledge(ctx context.Context) error {
	cfg, st := a.Cfg, a.Store
	pm := llm.NewPrometheusMetrics("kefu")
	if err := a.Metrics.Registry.Register(pm); err != nil {
		return fmt.Errorf("registering llm metrics: %w", err)
	}
	client, err := llm.New(cfg.LLM, llm.Options{Metrics: pm, Logger: a.Log, Clock: a.opts.Clock})
	if err != nil {
		return fmt.Errorf("configuring llm: %w", err)
	}
	a.LLM = client
	var emb knowledge.Embedder
	if client.Enabled() && cfg.LLM.EmbeddingModel != "" {
		emb = client
	}
	kcfg := cfg.Knowledge
	if kcfg.Gaps.Prefix == "" || kcfg.Gaps.Prefix == "kefu:kb:gaps" {
		kcfg.Gaps.Prefix = st.Keys.Prefix + "kb:gaps"
	}
	a.Knowledge, err = knowledge.New(ctx, kcfg, knowledge.Options{Embedder: emb,
		VectorCache: &knowledge.RedisVectorCache{Client: st.Client, Prefix: st.Keys.Prefix + "kb:vec:"}, Logger: a.Log})
	if err != nil {
		return fmt.Errorf("loading the knowledge base from %s:\n%w", kcfg.Dir, err)
	}
	a.Gaps = knowledge.NewGaps(st.Client, kcfg.Gaps)
	a.admin = append(a.admin, knowledgeAdmin{gaps: a.Gaps})
	if client.Enabled() {
		a.Log.Info("llm configured", zap.String("model", cfg.LLM.Model), zap.Bool("embeddings", emb != nil))
	}
	return nil
}

// selfURL is kefu's own base URL for flows' http steps ({{vars.self_url}}):
// http.public_url when set, else loopback on the listening port.
func selfURL(c HTTPConfig, listening string) string {
	if c.PublicURL != "" {
		return strings.TrimRight(c.PublicURL, "/")
	}
	addr := listening
	if addr == "" {
		addr = c.Addr
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://127.0.0.1:8080"
	}
	return "http://127.0.0.1:" + port
}

func (a *App) closeStorage() {
	if a.Inspector != nil {
		_ = a.Inspector.Close()
	}
	if a.Tasks != nil {
		_ = a.Tasks.Close()
	}
	_ = a.Store.Close()
}

func waitTimeout(wg *sync.WaitGroup, d time.Duration) {
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(d):
	}
}

// mustBeDir is a config error on key unless dir is a directory.
func mustBeDir(key, dir string) error {
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return config.Errorf(key, "%q is not a directory (a relative path is taken from where kefu runs)", dir)
	}
	return nil
}
