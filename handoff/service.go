// Package handoff hands conversations from the bot to human agents who work
// in enterprise WeChat (WeCom), and back.
//
// A customer asks for a human (a flow's handoff step, the 人工 command,
// repeated misses, or an operator): Request puts the conversation in a queue
// and sets its owner, so the bot falls silent. Assignment tasks give waiting
// customers, longest waiting first, to online agents with free capacity,
// claimed atomically in Redis. The agent gets a notice with the customer's
// context in the WeCom app and answers there; the Interceptor takes the
// agent's messages (replies and commands such as /end 结束) and the
// customer receives the replies on their own channel through
// Router.Deliver. The OwnedHandler relays what the customer writes back to
// the agent. When the agent ends the conversation the customer is asked for
// a rating and is back with the bot.
//
// Everything lives in Redis, so any number of kefu processes share queues,
// presence and assignments; see docs/handoff.md.
package handoff

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/kefu-gateway/kefu/adapters"
	"github.com/kefu-gateway/kefu/adapters/message"
	"github.com/kefu-gateway/kefu/internal/clock"
	"github.com/kefu-gateway/kefu/internal/config"
	"github.com/kefu-gateway/kefu/internal/metrics"
	"github.com/kefu-gateway/kefu/internal/store"
	"github.com/kefu-gateway/kefu/router"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// Deliverer sends messages to a customer outside a turn; *router.Router
// implements it.
type Deliverer interface {
	Deliver(ctx context.Context, d router.Delivery) ([]message.Message, error)
}

// AdapterLookup finds a channel account; *adapters.Set implements it.
type AdapterLookup interface {
	Lookup(channel, account string) (adapters.Adapter, bool)
}

// Deps is what the handoff service needs.
type Deps struct {
	Redis redis.UniversalClient
	Keys  store.Keys
	// Router delivers agents' replies and notices to customers.
	Router Deliverer
	// Adapters finds the agents' WeCom app accounts and the customers' channels.
	Adapters AdapterLookup
	// Tasks enqueues the handoff's tasks and the messages to agents.
	Tasks adapters.Enqueuer
	// Transcripts reads the last turns for the agent's notice; nil = the
	// router's transcript in Redis.
	Transcripts adapters.Transcripts
	// Tags stores the tags agents put on customers: ContactTags{Store} with
	// the contacts component; nil = a Redis set per conversation (RedisTags).
	Tags Tagger
	// Flows starts the survey flow after /end (csat.flow); *router.Router
	// implements it. Required only when csat.flow is set.
	Flows router.FlowStarter
	// FlowExists reports whether a flow id is loaded, to refuse a csat.flow
	// naming none at start; nil skips the check.
	FlowExists func(id string) bool
	Clock      clock.Clock
	Log        *zap.Logger
	Metrics    *metrics.Metrics
}

// Service is the handoff: its hooks go into the router, its task handlers
// into the workers, its routes into the operator API.
type Service struct {
	cfg      Config
	rdb      redis.UniversalClient
	keys     keys
	router   Deliverer
	flows    router.FlowStarter
	adapters AdapterLookup
	tasks    adapters.Enqueuer
	tx       adapters.Transcripts
	tags     Tagger
	clock    clock.Clock
	log      *zap.Logger
	m        *handoffMetrics

	agents      map[string]*AgentConfig
	agentOrder  []*AgentConfig
	byUser      map[string]*AgentConfig
	queues      map[string]*QueueConfig
	queueOrder  []*QueueConfig
	queueAgents map[string][]*AgentConfig
	kf          map[string]KFServicerConfig
	commands    commandSet
	leaveWords  map[string]bool

	// afterClaim, when set (tests only), runs after an assignment is
	// claimed and before it is carried out.
	afterClaim func(conv string)
	// afterLeft, when set (tests only), runs after a leave-message step
	// ended and before its owner is cleared.
	afterLeft func(conv string)
	// afterOwnerRead, when set (tests only), runs in clearOwner after it
	// read the owner and found no handoff under way, before it clears.
	afterOwnerRead func(conv string)
}

var (
	_ router.Interceptor   = (*Service)(nil)
	_ router.OwnedHandler  = (*Service)(nil)
	_ router.EffectRunner  = (*Service)(nil)
	_ router.BurstExempter = (*Service)(nil)
)

// Errors callers can test for.
var (
	ErrUnknownQueue        = errors.New("no such handoff queue")
	ErrUnknownConversation = errors.New("no such conversation")
)

// New returns the handoff service. cfg is validated again here (so a
// hand-built Config works too) and every agent's wecom_app account must
// exist among the adapters.
func New(cfg Config, d Deps) (*Service, error) {
	if d.Redis == nil || d.Router == nil || d.Adapters == nil || d.Tasks == nil {
		return nil, errors.New("creating handoff service: redis, router, adapters and tasks are required")
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("creating handoff service: %w", err)
	}
	if f := cfg.CSAT.Flow; f != "" {
		if d.Flows == nil {
			return nil, errors.New("creating handoff service: csat.flow needs a flow starter")
		}
		if d.FlowExists != nil && !d.FlowExists(f) {
			return nil, fmt.Errorf("creating handoff service: %w", config.Errorf("csat.flow", "no flow has the id %q", f))
		}
	}
	if d.Clock == nil {
		d.Clock = clock.Real{}
	}
	if d.Log == nil {
		d.Log = zap.NewNop()
	}
	if d.Metrics == nil {
		d.Metrics = metrics.New()
	}
	if d.Transcripts == nil {
		d.Transcripts = router.NewTranscriptReader(d.Redis, d.Keys)
	}
	k := keys{d.Keys}
	if d.Tags == nil {
		d.Tags = RedisTags{rdb: d.Redis, keys: k}
	}
	s := &Service{
		cfg: cfg, rdb: d.Redis, keys: k, router: d.Router, flows: d.Flows, adapters: d.Adapters, tasks: d.Tasks,
		tx: d.Transcripts, tags: d.Tags, clock: d.Clock, log: d.Log.Named("handoff"), m: newMetrics(d.Metrics),
		agents: map[string]*AgentConfig{}, byUser: map[string]*AgentConfig{}, queues: map[string]*QueueConfig{},
		queueAgents: map[string][]*AgentConfig{}, kf: map[string]KFServicerConfig{}, leaveWords: map[string]bool{},
	}
	var errs []string
	for i := range s.cfg.Agents {
		a := &s.cfg.Agents[i]
		if _, ok := d.Adapters.Lookup(cfg.AgentChannel, a.WecomApp); !ok {
			errs = append(errs, fmt.Sprintf("handoff.agents[%d].wecom_app: no %s account %q is configured", i, cfg.AgentChannel, a.WecomApp))
		}
		s.agents[a.ID] = a
		s.agentOrder = append(s.agentOrder, a)
		s.byUser[a.WecomApp+"\x00"+a.WecomUser] = a
	}
	qs := s.cfg.queues()
	for i := range qs {
		q := &qs[i]
		s.queues[q.ID] = q
		s.queueOrder = append(s.queueOrder, q)
		for _, a := range s.agentOrder {
			if serves(*a, *q) {
				s.queueAgents[q.ID] = append(s.queueAgents[q.ID], a)
			}
		}
	}
	for i, k := range cfg.KFServicer {
		if _, ok := d.Adapters.Lookup(KFChannel, k.Account); !ok {
			errs = append(errs, fmt.Sprintf("handoff.kf_servicer[%d].account: no %s account %q is configured", i, KFChannel, k.Account))
		}
		s.kf[k.Account] = k
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("creating handoff service:\n%s", strings.Join(errs, "\n"))
	}
	s.commands = newCommandSet(cfg.CommandAliases)
	for _, w := range cfg.LeaveQueueCommands {
		s.leaveWords[normalizeWord(w)] = true
	}
	return s, nil
}

// Config returns the service's configuration.
func (s *Service) Config() Config { return s.cfg }

// queue returns the queue with id, or the default queue for "".
func (s *Service) queue(id string) (*QueueConfig, error) {
	if id == "" {
		id = s.cfg.defaultQueue()
	}
	q, ok := s.queues[id]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownQueue, id)
	}
	return q, nil
}

// hours returns the business hours that apply to q (nil = always open).
func (s *Service) hours(q *QueueConfig) *BusinessHours {
	if q.BusinessHours != nil {
		return q.BusinessHours
	}
	return s.cfg.BusinessHours
}

// readRecord loads a conversation's handoff record; nil when there is none.
func (s *Service) readRecord(ctx context.Context, conv string) (*Record, error) {
	h, err := s.rdb.HGetAll(ctx, s.keys.record(conv)).Result()
	if err != nil {
		return nil, fmt.Errorf("reading handoff record: %w", err)
	}
	return parseRecord(conv, h), nil
}

// setOwner sets (or with "" clears) the conversation's owner and bumps its
// version; owners that are not the handoff's are left alone.
func (s *Service) setOwner(ctx context.Context, conv, owner string) (bool, error) {
	return s.setOwnerIf(ctx, conv, owner, "")
}

// clearOwner gives the conversation back to the bot when its handoff has
// ended. It clears was, the owner the ending handoff set, in one step. When
// the owner is another — the step that sets was never ran (/end between a
// claim and its completion, a crash), or a newer handoff set its own (an
// agent's /callback in another process) — the record decides: with no
// handoff under way any handoff owner is cleared (clearEndedOwner);
// otherwise the owner stays and clearOwner reports the conversation taken.
func (s *Service) clearOwner(ctx context.Context, conv, was string) (taken bool, err error) {
	// Without a known owner (a 微信客服 servicer's is not in the record)
	// the one-step clear would clear any owner; the record must decide.
	if was != "" {
		if ok, err := s.setOwnerIf(ctx, conv, "", was); err != nil || ok {
			return false, err
		}
	}
	_, taken, err = s.clearEndedOwner(ctx, conv)
	return taken, err
}

// clearEndedOwner clears the conversation's handoff owner when no handoff is
// under way, and reports whether it did, or whether a handoff under way
// keeps the owner (taken). Owners that are not the handoff's stay.
//
// The record lives in another Redis Cluster slot than the conversation, so
// the two cannot be judged in one script. Instead the owner is read with the
// conversation's version, the record after it, and the owner cleared only
// at that version: a handoff that starts between the reads sets its owner
// (perhaps the same "queue:…" string) after its record, which moves the
// version, and the next pass sees the handoff.
func (s *Service) clearEndedOwner(ctx context.Context, conv string) (cleared, taken bool, err error) {
	key := s.keys.Conversation(conv)
	for range clearOwnerPasses {
		vals, err := s.rdb.HMGet(ctx, key, "o", "v").Result()
		if err != nil {
			return false, false, fmt.Errorf("reading conversation owner: %w", err)
		}
		owner, _ := vals[0].(string)
		version, _ := vals[1].(string)
		if !isHandoffOwner(owner) {
			return false, false, nil
		}
		cur, err := s.readRecord(ctx, conv)
		if err != nil {
			return false, false, err
		}
		if cur != nil && cur.Status.Active() {
			return false, true, nil
		}
		if s.afterOwnerRead != nil {
			s.afterOwnerRead(conv)
		}
		if version == "" {
			version = "0"
		}
		n, err := clearOwnerAtScript.Run(ctx, s.rdb, []string{key}, version).Int()
		if err != nil {
			return false, false, fmt.Errorf("clearing conversation owner: %w", err)
		}
		if n == 1 {
			return true, false, nil
		}
	}
	return false, false, fmt.Errorf("clearing conversation owner: the conversation kept changing over %d passes", clearOwnerPasses)
}

// clearOwnerPasses bounds clearEndedOwner's read-and-clear passes. A pass fails
// only when the conversation changed in between (a turn's commit or a new
// owner), each of which a customer's message or an agent causes.
const clearOwnerPasses = 5

// isHandoffOwner reports whether owner is one the handoff sets ("" is
// not).
func isHandoffOwner(owner string) bool {
	for _, p := range ownerPrefixes {
		if strings.HasPrefix(owner, p) {
			return true
		}
	}
	return false
}

// setOwnerIf sets the owner when the current one is was ("" = any handoff
// owner or none) and reports whether it did.
func (s *Service) setOwnerIf(ctx context.Context, conv, owner, was string) (bool, error) {
	args := []any{owner, was, s.cfg.RecordTTL.Milliseconds()}
	for _, p := range ownerPrefixes {
		args = append(args, p)
	}
	n, err := ownerScript.Run(ctx, s.rdb, []string{s.keys.Conversation(conv)}, args...).Int()
	if err != nil {
		return false, fmt.Errorf("setting conversation owner: %w", err)
	}
	return n == 1, nil
}

// tell delivers system messages to the customer of r.
func (s *Service) tell(ctx context.Context, r *Record, texts ...string) error {
	return s.say(ctx, r, message.Party{Role: message.RoleSystem}, texts...)
}

// say delivers messages from one sender to the customer of r.
func (s *Service) say(ctx context.Context, r *Record, from message.Party, texts ...string) error {
	_, err := s.deliver(ctx, r, from, texts...)
	return err
}

// deliver is say returning the delivered messages with their transcript ids.
func (s *Service) deliver(ctx context.Context, r *Record, from message.Party, texts ...string) ([]message.Message, error) {
	msgs := make([]message.Message, 0, len(texts))
	for _, t := range texts {
		if t != "" {
			msgs = append(msgs, message.Message{From: from, Kind: message.KindText, Text: t, Timestamp: s.clock.Now()})
		}
	}
	if len(msgs) == 0 {
		return nil, nil
	}
	out, err := s.router.Deliver(ctx, router.Delivery{
		ConversationID: r.Conversation, Channel: r.Channel, Account: r.Account, Customer: r.Customer, Messages: msgs,
	})
	if err != nil {
		return nil, fmt.Errorf("delivering to the customer: %w", err)
	}
	return out, nil
}

// logErr logs a failure that does not stop the caller.
func (s *Service) logErr(msg string, err error, fields ...zap.Field) {
	if err == nil {
		return
	}
	s.m.errors.Inc()
	s.log.Error(msg, append(fields, zap.Error(err))...)
}
