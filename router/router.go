// Package router answers normalized messages: it drops retries of messages
// already seen, loads the conversation's state, lets the flows (then the
// fallbacks) answer, commits state and transcript in one atomic step, and
// hands the replies to the adapter's passive response or to the outbox.
//
// A turn costs two Redis round trips: one pipelined load (dedup mark, state,
// deferred replies) and one script that commits state, transcript and
// pub/sub notifications together. Both go through a store.Batcher, so
// concurrent turns share those trips.
package router

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kefu-gateway/kefu/adapters"
	"github.com/kefu-gateway/kefu/adapters/message"
	"github.com/kefu-gateway/kefu/flows"
	"github.com/kefu-gateway/kefu/internal/clock"
	"github.com/kefu-gateway/kefu/internal/knowledge"
	"github.com/kefu-gateway/kefu/internal/llm"
	"github.com/kefu-gateway/kefu/internal/metrics"
	"github.com/kefu-gateway/kefu/internal/store"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// Deps is what the router needs.
type Deps struct {
	Redis   redis.UniversalClient
	Keys    store.Keys
	Log     *zap.Logger
	Metrics *metrics.Metrics
	Clock   clock.Clock
	Engine  *flows.Engine
	// Runner runs the engine with its HTTP steps; nil = the engine alone
	// (http steps then fail as on_error).
	Runner *flows.Runner
	Tasks  adapters.Enqueuer
	// Timers cancels scheduled flow timers; nil = stale timers are simply
	// ignored when they fire.
	Timers TimerCanceller
	// Knowledge answers what flows do not (nil = none); Gaps records what
	// nothing could answer.
	Knowledge *knowledge.Service
	Gaps      *knowledge.Gaps
	// LLM answers from the knowledge base's passages when it has no FAQ
	// (nil or disabled = no LLM).
	LLM *llm.Client
	// Batch sends the turns' Redis commands together (nil = a batcher of
	// the router's own on Redis).
	Batch *store.Batcher
}

// TimerCanceller deletes a scheduled task (asynq.Inspector satisfies it).
type TimerCanceller interface {
	DeleteTask(queue, id string) error
}

// Router answers inbound messages. It implements adapters.Inbound.
type Router struct {
	cfg     Config
	rdb     redis.UniversalClient
	batch   *store.Batcher
	keys    store.Keys
	log     *zap.Logger
	metrics *metrics.Metrics
	clock   clock.Clock
	engine  *flows.Engine
	runner  *flows.Runner
	tasks   adapters.Enqueuer
	timers  TimerCanceller
	outbox  *outbox
	vars    atomic.Pointer[map[string]string]

	contacts  ContactObserver
	kb        *knowledge.Service
	gaps      *knowledge.Gaps
	llm       *llm.Client
	intents   intentClassifier
	fallbacks *prometheus.CounterVec

	adaptersMu sync.RWMutex
	adapters   *adapters.Set

	hooks   Hooks
	locks   convLocks
	workers turnWorkers
	wg      sync.WaitGroup

	// states, oneTripGate and oneTrips serve one-trip turns (see oneTrip);
	// oneTripOK is false on Redis Cluster, where the commit could not
	// check keys of other slots.
	states      *oneTripStates
	oneTripGate *oneTripGate
	oneTrips    *prometheus.CounterVec
	oneTripOK   bool

	// base is the parent of every turn's context: turns outlive the HTTP
	// request that started them, and end with the process.
	base   context.Context
	cancel context.CancelFunc
}

var _ adapters.Inbound = (*Router)(nil)

// New returns a router. Call SetAdapters before accepting messages.
func New(cfg Config, d Deps) *Router {
	if d.Clock == nil {
		d.Clock = clock.Real{}
	}
	base, cancel := context.WithCancel(context.Background())
	r := &Router{cfg: cfg, rdb: d.Redis, keys: d.Keys, log: d.Log, metrics: d.Metrics, clock: d.Clock,
		engine: d.Engine, runner: d.Runner, tasks: d.Tasks, timers: d.Timers, base: base, cancel: cancel,
		kb: d.Knowledge, gaps: d.Gaps, llm: d.LLM}
	r.fallbacks = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kefu_answers_total",
		Help: "Answers to text no flow handled, by source (knowledge, knowledge_clarify, intent, llm) or miss reason, and handoffs started after misses.",
	}, []string{"source"})
	r.states, r.oneTripGate = newOneTripStates(), &oneTripGate{clock: d.Clock}
	_, cluster := d.Redis.(*redis.ClusterClient)
	r.oneTripOK = !cfg.TwoTrips && !cluster
	r.oneTrips = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kefu_one_trip_turns_total",
		Help: "Turns answered before their message was deduplicated, in one Redis round trip, by outcome: committed, duplicate, changed (the state or contact had changed: a second trip), needs_io (the answer needed an HTTP step or the fallback).",
	}, []string{"outcome"})
	if d.Metrics != nil {
		_ = d.Metrics.Registry.Register(r.fallbacks)
		_ = d.Metrics.Registry.Register(r.oneTrips)
	}
	if r.batch = d.Batch; r.batch == nil {
		r.batch = store.NewBatcher(d.Redis)
	}
	if r.runner == nil {
		r.runner = flows.NewRunner(d.Engine, nil, d.Log)
	}
	r.outbox = &outbox{r: r}
	return r
}

// SetVars sets the values flows read as {{vars.x}} on top of flows.vars,
// such as self_url, kefu's own base URL, known once the server listens.
func (r *Router) SetVars(v map[string]string) { r.vars.Store(&v) }

func (r *Router) flowVars() map[string]string {
	if v := r.vars.Load(); v != nil {
		return *v
	}
	return nil
}

// SetAdapters gives the router the configured channels (built after the
// router, because they need it as their Inbound).
func (r *Router) SetAdapters(s *adapters.Set) {
	r.adaptersMu.Lock()
	r.adapters = s
	r.adaptersMu.Unlock()
}

func (r *Router) capabilities(channel, account string) (adapters.Capabilities, bool) {
	r.adaptersMu.RLock()
	defer r.adaptersMu.RUnlock()
	if r.adapters == nil {
		return adapters.Capabilities{}, false
	}
	a, ok := r.adapters.Lookup(channel, account)
	if !ok {
		return adapters.Capabilities{}, false
	}
	return a.Capabilities(), true
}

// Accept starts handling msg. See adapters.Inbound.
func (r *Router) Accept(ctx context.Context, msg message.Message) (adapters.Turn, error) {
	if msg.Channel == "" || msg.Account == "" || msg.ConversationID == "" || msg.ID == "" {
		return nil, errors.New("accepting message: channel, account, conversation id and id are required")
	}
	caps, ok := r.capabilities(msg.Channel, msg.Account)
	if !ok {
		return nil, fmt.Errorf("accepting message: no adapter for %s/%s", msg.Channel, msg.Account)
	}
	if msg.Timestamp.IsZero() {
		msg.Timestamp = r.clock.Now()
	}
	if msg.From.Role == "" {
		msg.From.Role = message.RoleCustomer
	}
	t := &turn{r: r, msg: msg, caps: caps, known: make(chan struct{}), done: make(chan struct{})}
	t.passiveUntil = msg.Reply.PassiveDeadline
	if t.passiveUntil.IsZero() && caps.PassiveBudget > 0 {
		t.passiveUntil = time.Now().Add(caps.PassiveBudget)
	}
	if caps.PassiveBudget <= 0 && !caps.TranscriptDelivery {
		// No passive response: the replies go actively from the start,
		// even if the adapter asks for them (TakePassive).
		t.phase = phaseActive
	}
	r.metrics.MessagesIn.WithLabelValues(msg.Channel, string(msg.Kind)).Inc()
	r.wg.Add(1)
	r.workers.run(func() { r.process(t) })
	return t, nil
}

// maxCommitAttempts bounds re-running a turn whose conversation changed
// under it (another process committed first, or a human took over). Two
// processes answering one customer at the same instant is rare; a short
// jittered pause between attempts keeps them from colliding again.
const maxCommitAttempts = 12

func (r *Router) process(t *turn) {
	defer r.wg.Done()
	start := time.Now()
	ctx, cancel := context.WithTimeout(r.base, r.cfg.TurnTimeout)
	defer cancel()
	unlock := r.locks.lock(t.msg.ConversationID)
	defer func() { unlock() }()

	knownOnce := sync.OnceFunc(func() { close(t.known) })
	defer knownOnce()
	// marked is the dedup key this turn set; a turn that fails clears it,
	// so the platform's retry is processed rather than dropped as a
	// duplicate of a message nobody answered.
	marked := ""
	fail := func(err error) {
		if marked != "" {
			cctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			r.rdb.Del(cctx, marked)
			cancel()
		}
		r.metrics.Errors.WithLabelValues("router").Inc()
		r.log.Error("handling message failed", zap.String("channel", t.msg.Channel), zap.String("account", t.msg.Account),
			zap.String("conversation", t.msg.ConversationID), zap.Error(err))
		t.err = err
		knownOnce()
		t.finish(nil, nil, 0)
	}

	dedupKey := r.keys.Dedup(t.msg.Channel, t.msg.Account, t.msg.ID)
	// inbound is every customer message this turn answers: one, or a
	// merged burst; question is what the answer is given.
	inbound := []message.Message{t.msg}
	question := t.msg
	// contact is the customer's profile, observed on the first attempt.
	var contact *ContactView
	if w := t.caps.MergeWindow; w > 0 && mergeable(t.msg) && !r.burstExempt(t.msg) {
		unlock() // other messages of the burst must get in meanwhile
		dup, burst, err := r.joinBurst(ctx, t, w)
		unlock = r.locks.lock(t.msg.ConversationID)
		switch {
		case err != nil:
			fail(err)
			return
		case dup:
			t.dup = true
			knownOnce()
			r.dropDuplicate(t)
			return
		case burst == nil:
			// A later message of the burst answers for this one.
			knownOnce()
			t.finish(nil, nil, 0)
			return
		}
		knownOnce()
		marked = dedupKey
		inbound, dedupKey = burst, ""
		question.Text = mergeText(burst)
	}
	if dedupKey != "" {
		done, err := r.oneTrip(ctx, t, dedupKey, start, knownOnce)
		if err != nil {
			fail(err)
			return
		}
		if done {
			return
		}
	}
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			dedupKey = ""
		}
		var observe *message.Message
		if attempt == 0 {
			observe = new(observedMessage(question, t.caps))
		}
		ld, err := r.load(ctx, t.msg.ConversationID, dedupKey, observe)
		if err != nil {
			fail(err)
			return
		}
		if attempt == 0 && dedupKey != "" {
			t.dup = ld.duplicate
			knownOnce()
			if !ld.duplicate {
				marked = dedupKey
			}
		}
		if ld.duplicate {
			r.dropDuplicate(t)
			return
		}
		if attempt == 0 && r.intercept(ctx, t) {
			t.finish(nil, nil, 0)
			return
		}
		conv := ld.conv
		if conv.ID == "" {
			conv.ID, conv.Channel, conv.Account, conv.Started = t.msg.ConversationID, t.msg.Channel, t.msg.Account, t.msg.Timestamp
		}
		if ld.contact != nil {
			contact = ld.contact
		}
		if contact != nil {
			conv.Contact = contact.Contact
		}
		var replies []message.Message
		var effects []effect
		if contact != nil && contact.Consent && conv.BotOwned() {
			// An opt-out or opt-in keyword: confirmed, never a flow input.
			noteCustomer(conv, question)
			if contact.ConsentReply != "" {
				replies = []message.Message{r.reply(question, contact.ConsentReply, nil)}
			}
		} else {
			replies, effects, _ = r.respond(ctx, conv, question, t.caps, false)
		}
		entries := make([]message.Message, 0, len(inbound)+len(replies))
		entries = append(entries, inbound...)
		entries = append(entries, replies...)
		ids, seq, err := r.commit(ctx, conv, commitOptions{
			pendingDelivered: len(ld.pending),
			botReplies:       hasBotReply(replies),
			publish:          t.caps.TranscriptDelivery,
			numberOutbound:   len(ld.pending)+len(replies) > 0 && t.repliesGoActive(),
		}, entries)
		if errors.Is(err, errConflict) || errors.Is(err, errHumanOwned) {
			if attempt+1 < maxCommitAttempts {
				time.Sleep(time.Duration(rand.Int64N(int64(time.Millisecond) * int64(attempt+1))))
				continue
			}
			err = fmt.Errorf("giving up after %d attempts: %w", maxCommitAttempts, err)
		}
		if err != nil {
			fail(err)
			return
		}
		r.committed(ctx, t, conv, question, start, ld.pending, replies, ids[len(inbound):], seq, effects)
		return
	}
}

// dropDuplicate counts and finishes a turn whose message was seen before.
func (r *Router) dropDuplicate(t *turn) {
	r.metrics.Duplicates.WithLabelValues(t.msg.Channel).Inc()
	r.log.Debug("dropping duplicate message", zap.String("channel", t.msg.Channel), zap.String("id", t.msg.ID))
	t.finish(nil, nil, 0)
}

// committed finishes a turn whose commit went through: the replies get
// their transcript ids (replyIDs, in order), the channel gets the deferred
// replies the turn delivers and then the new ones, and the turn's effects
// run.
func (r *Router) committed(ctx context.Context, t *turn, conv *Conversation, question message.Message, start time.Time,
	pending, replies []message.Message, replyIDs []string, seq int64, effects []effect) {
	for i := range replies {
		replies[i].ID = replyIDs[i]
	}
	out := append(pending, r.outbox.render(t.caps, replies)...)
	r.metrics.HandleSeconds.WithLabelValues(t.msg.Channel).Observe(time.Since(start).Seconds())
	t.finish(conv, out, seq)
	r.runEffects(ctx, conv, question, effects)
}

func hasBotReply(ms []message.Message) bool {
	for _, m := range ms {
		if m.From.Role == message.RoleBot {
			return true
		}
	}
	return false
}

// burstExempt reports whether an interceptor wants msg on its own.
func (r *Router) burstExempt(msg message.Message) bool {
	for _, ic := range r.hooks.Interceptors {
		if be, ok := ic.(BurstExempter); ok && be.ExemptFromBurst(msg) {
			return true
		}
	}
	return false
}

// intercept offers the message to the interceptors; true when one took it.
func (r *Router) intercept(ctx context.Context, t *turn) bool {
	for _, ic := range r.hooks.Interceptors {
		took, err := ic.Intercept(ctx, t.msg)
		if err != nil {
			r.metrics.Errors.WithLabelValues("interceptor").Inc()
			r.log.Error("interceptor failed", zap.String("channel", t.msg.Channel), zap.Error(err))
		}
		if took {
			return true
		}
	}
	return false
}

// runEffects carries out what the committed turn asked for.
func (r *Router) runEffects(ctx context.Context, conv *Conversation, in message.Message, effects []effect) {
	for _, e := range effects {
		var err error
		switch {
		case e.action.Kind == flows.ActionTimerSchedule:
			err = r.scheduleTimer(ctx, conv.ID, e.action)
		case e.action.Kind == flows.ActionTimerCancel:
			r.cancelTimer(conv.ID, e.action.Token)
		case e.action.Kind == flows.ActionEnd:
			r.log.Debug("flow ended", zap.String("conversation", conv.ID), zap.String("flow", e.action.Flow), zap.String("reason", e.action.Reason))
		case e.gap != "":
			if r.gaps != nil {
				err = r.gaps.Record(ctx, e.gap)
			}
		case e.owned:
			if r.hooks.Owned != nil {
				err = r.hooks.Owned.HandleOwned(ctx, *conv, in)
			}
		case r.hooks.Effects != nil:
			err = r.hooks.Effects.RunEffect(ctx, *conv, in, e.action)
		default:
			r.log.Debug("flow action not carried out by this build", zap.String("kind", string(e.action.Kind)))
		}
		if err != nil {
			r.metrics.Errors.WithLabelValues("effects").Inc()
			r.log.Error("carrying out a turn's effect failed", zap.String("conversation", conv.ID),
				zap.String("action", string(e.action.Kind)), zap.Error(err))
		}
	}
}

// Close stops accepting work and waits for turns in flight, up to ctx.
func (r *Router) Close(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		r.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		r.cancel()
		return nil
	case <-ctx.Done():
		r.cancel()
		return fmt.Errorf("waiting for turns in flight: %w", ctx.Err())
	}
}
