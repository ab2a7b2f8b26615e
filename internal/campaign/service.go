package campaign

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/kefu-gateway/kefu/adapters"
	"github.com/kefu-gateway/kefu/internal/clock"
	"github.com/kefu-gateway/kefu/internal/followup"
	"github.com/kefu-gateway/kefu/internal/ratelimit"
	"github.com/kefu-gateway/kefu/internal/store"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// ErrNotFound is returned for unknown campaigns.
var ErrNotFound = errors.New("campaign not found")

// ErrExists is returned when creating a campaign with an id in use.
var ErrExists = errors.New("a campaign with this id exists")

// StateError is a pause, resume or cancel the campaign's status refuses.
type StateError struct {
	Action, Status string
}

func (e *StateError) Error() string {
	return fmt.Sprintf("cannot %s a campaign that is %s", e.Action, e.Status)
}

// Deps is what the campaign service needs.
type Deps struct {
	Redis    redis.UniversalClient
	Keys     store.Keys
	Outreach *followup.Outreach
	Tasks    adapters.Enqueuer
	Clock    clock.Clock
	Log      *zap.Logger
	// FlowExists, when set, refuses campaigns naming a flow not loaded.
	FlowExists func(id string) bool
	// Lease is how long a recipient may stay "sending" before a worker
	// that finds it counts it as interrupted; default followups.send_timeout
	// plus 15s.
	Lease time.Duration
}

// Service creates, runs and controls campaigns. Its Handlers run in the
// workers.
type Service struct {
	d       Deps
	cfg     Config
	keys    keys
	limiter *ratelimit.Limiter

	defMu sync.Mutex
	defs  map[string]*Definition
}

// New returns the campaign service.
func New(d Deps, cfg Config) *Service {
	if d.Clock == nil {
		d.Clock = clock.Real{}
	}
	if d.Log == nil {
		d.Log = zap.NewNop()
	}
	if d.Lease <= 0 {
		d.Lease = d.Outreach.SendTimeout() + 15*time.Second
	}
	l := d.Outreach.Limiter()
	if l == nil {
		l = ratelimit.New(d.Redis, d.Keys, nil)
	}
	return &Service{d: d, cfg: cfg, keys: newKeys(d.Outreach.Contacts().Keys()), limiter: l, defs: map[string]*Definition{}}
}

// Handlers are the task handlers to register on the workers.
func (s *Service) Handlers() map[string]asynq.Handler {
	return map[string]asynq.Handler{
		TypePlan:  asynq.HandlerFunc(s.processPlan),
		TypeBatch: asynq.HandlerFunc(s.processBatch),
	}
}

func newCampaignID(now time.Time) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return "cmp_" + now.UTC().Format("20060102") + "_" + hex.EncodeToString(b[:])
}

// createScript stores a new campaign unless the id is taken.
//
//	KEYS: 1 campaign hash, 2 index
//	ARGV: 1 id, 2 def JSON, 3 created ms, 4 status
var createScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'def', ARGV[2], 'status', ARGV[4], 'gen', 1, 'created', ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
return 1
`)

// Create validates def and schedules the campaign. Invalid definitions
// return a *FieldError.
func (s *Service) Create(ctx context.Context, def Definition) (*Progress, error) {
	now := s.d.Clock.Now()
	if err := def.validate(now, s.cfg, s.d.FlowExists); err != nil {
		return nil, err
	}
	if def.ID == "" {
		def.ID = newCampaignID(now)
	}
	b, err := json.Marshal(def)
	if err != nil {
		return nil, fmt.Errorf("encoding campaign: %w", err)
	}
	ok, err := createScript.Run(ctx, s.d.Redis, []string{s.keys.campaign(def.ID), s.keys.index()}, def.ID, b, now.UnixMilli(), StatusScheduled).Int()
	if err != nil {
		return nil, fmt.Errorf("storing campaign: %w", err)
	}
	if ok == 0 {
		return nil, ErrExists
	}
	at := now
	if def.ScheduleAt != nil {
		at = *def.ScheduleAt
	}
	task, err := NewPlanTask(PlanPayload{ID: def.ID, Gen: 1}, at)
	if err == nil {
		_, err = s.d.Tasks.EnqueueContext(ctx, task)
	}
	if err != nil {
		s.d.Redis.HSet(context.WithoutCancel(ctx), s.keys.campaign(def.ID), "status", StatusFailed, "error", "could not be queued: "+err.Error())
		return nil, fmt.Errorf("queueing campaign: %w", err)
	}
	s.d.Log.Info("campaign created", zap.String("campaign", def.ID), zap.Time("start", at))
	return s.Get(ctx, def.ID)
}

// Get returns a campaign's progress.
func (s *Service) Get(ctx context.Context, id string) (*Progress, error) {
	ps, err := s.get(ctx, []string{id})
	if err != nil {
		return nil, err
	}
	if len(ps) == 0 {
		return nil, ErrNotFound
	}
	return ps[0], nil
}

func (s *Service) get(ctx context.Context, ids []string) ([]*Progress, error) {
	pipe := s.d.Redis.Pipeline()
	cs := make([]*redis.MapStringStringCmd, len(ids))
	sts := make([]*redis.MapStringStringCmd, len(ids))
	for i, id := range ids {
		if !validID(id) {
			continue
		}
		cs[i] = pipe.HGetAll(ctx, s.keys.campaign(id))
		sts[i] = pipe.HGetAll(ctx, s.keys.stats(id))
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("reading campaign: %w", err)
	}
	out := make([]*Progress, 0, len(ids))
	for i := range ids {
		if cs[i] == nil || len(cs[i].Val()) == 0 {
			continue
		}
		p, err := decodeProgress(cs[i].Val(), sts[i].Val())
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

func decodeProgress(h, st map[string]string) (*Progress, error) {
	var def Definition
	if err := json.Unmarshal([]byte(h["def"]), &def); err != nil {
		return nil, fmt.Errorf("decoding campaign: %w", err)
	}
	n := func(m map[string]string, k string) int64 { v, _ := strconv.ParseInt(m[k], 10, 64); return v }
	ts := func(k string) *time.Time {
		ms := n(h, k)
		if ms == 0 {
			return nil
		}
		t := time.UnixMilli(ms).UTC()
		return &t
	}
	p := &Progress{ID: def.ID, Name: def.Name, Status: h["status"], Audience: def.Audience, Content: def.Content,
		ScheduleAt: def.ScheduleAt, Started: ts("started"), Finished: ts("finished"), Error: h["error"],
		Total: n(h, "total"), Sending: n(st, "inflight"), Deferred: n(st, "deferred"), Sent: n(st, "sent"),
		Skipped: n(st, "skipped"), Failed: n(st, "failed"), SkippedBy: map[string]int64{}, FailedBy: map[string]int64{}}
	if c := ts("created"); c != nil {
		p.Created = *c
	}
	if def.Rate != nil {
		p.Rate = def.Rate.String()
	}
	for k, v := range st {
		x, _ := strconv.ParseInt(v, 10, 64)
		if x == 0 {
			continue
		}
		if r, ok := strings.CutPrefix(k, "skipped:"); ok {
			p.SkippedBy[r] = x
		} else if r, ok := strings.CutPrefix(k, "failed:"); ok {
			p.FailedBy[r] = x
		}
	}
	p.Queued = max(0, p.Total-p.Done()-p.Sending-p.Deferred)
	return p, nil
}

// List returns the newest campaigns first.
func (s *Service) List(ctx context.Context, limit int) ([]*Progress, error) {
	if limit <= 0 || limit > 200 {
		limit = 50
	}
	ids, err := s.d.Redis.ZRevRange(ctx, s.keys.index(), 0, int64(limit)-1).Result()
	if err != nil {
		return nil, fmt.Errorf("listing campaigns: %w", err)
	}
	ps, err := s.get(ctx, ids)
	if err != nil {
		return nil, err
	}
	if len(ps) < len(ids) {
		// Campaigns past their retention expired: drop them from the index.
		have := map[string]bool{}
		for _, p := range ps {
			have[p.ID] = true
		}
		for _, id := range ids {
			if !have[id] {
				s.d.Redis.ZRem(ctx, s.keys.index(), id)
			}
		}
	}
	return ps, nil
}

func (s *Service) scriptKeys(id string) []string {
	return []string{s.keys.campaign(id), s.keys.stats(id), s.keys.rcpt(id), s.keys.later(id)}
}

// Pause stops sending; recipients not yet sent wait for Resume.
func (s *Service) Pause(ctx context.Context, id string) (*Progress, error) {
	if _, _, err := s.control(ctx, id, "pause"); err != nil {
		return nil, err
	}
	return s.Get(ctx, id)
}

// Resume continues a paused campaign where it stopped.
func (s *Service) Resume(ctx context.Context, id string) (*Progress, error) {
	status, gen, err := s.control(ctx, id, "resume")
	if err != nil {
		return nil, err
	}
	switch status {
	case StatusScheduled:
		at := s.d.Clock.Now()
		if def, err := s.definition(ctx, id); err == nil && def.ScheduleAt != nil && def.ScheduleAt.After(at) {
			at = *def.ScheduleAt
		}
		task, err := NewPlanTask(PlanPayload{ID: id, Gen: gen}, at)
		if err == nil {
			_, err = s.d.Tasks.EnqueueContext(ctx, task)
		}
		if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
			return nil, fmt.Errorf("queueing campaign: %w", err)
		}
	case StatusRunning:
		if err := s.enqueueRemaining(ctx, id, gen); err != nil {
			return nil, err
		}
	}
	return s.Get(ctx, id)
}

// Cancel stops the campaign for good; recipients not yet sent are counted
// as skipped (cancelled).
func (s *Service) Cancel(ctx context.Context, id string) (*Progress, error) {
	if _, _, err := s.control(ctx, id, "cancel"); err != nil {
		return nil, err
	}
	s.finalize(ctx, id)
	return s.Get(ctx, id)
}

func (s *Service) control(ctx context.Context, id, action string) (string, int64, error) {
	if !validID(id) {
		return "", 0, ErrNotFound
	}
	res, err := controlScript.Run(ctx, s.d.Redis, s.scriptKeys(id), action, s.d.Clock.Now().UnixMilli()).Slice()
	if err != nil {
		return "", 0, fmt.Errorf("%sing campaign: %w", strings.TrimSuffix(action, "e"), err)
	}
	status, _ := res[1].(string)
	if r, _ := res[0].(string); r != "ok" {
		if status == "" {
			return "", 0, ErrNotFound
		}
		return "", 0, &StateError{Action: action, Status: status}
	}
	gen, _ := res[2].(int64)
	s.d.Log.Info("campaign "+action, zap.String("campaign", id), zap.String("status", status))
	return status, gen, nil
}

// enqueueRemaining queues, for generation gen, every batch not finished
// and a wake-up for the deferred recipients.
func (s *Service) enqueueRemaining(ctx context.Context, id string, gen int64) error {
	pipe := s.d.Redis.Pipeline()
	nb := pipe.HGet(ctx, s.keys.campaign(id), "batches")
	done := pipe.SMembers(ctx, s.keys.done(id))
	first := pipe.ZRangeWithScores(ctx, s.keys.later(id), 0, 0)
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("reading campaign batches: %w", err)
	}
	batches, _ := nb.Int64()
	finished := map[string]bool{}
	for _, n := range done.Val() {
		finished[n] = true
	}
	now := s.d.Clock.Now()
	for n := int64(0); n < batches; n++ {
		if finished[strconv.FormatInt(n, 10)] {
			continue
		}
		if err := s.enqueue(ctx, BatchPayload{ID: id, Gen: gen, N: n}, now); err != nil {
			return err
		}
	}
	if z := first.Val(); len(z) > 0 {
		at := time.UnixMilli(int64(z[0].Score))
		if at.Before(now) {
			at = now
		}
		return s.enqueue(ctx, BatchPayload{ID: id, Gen: gen, Later: true}, at)
	}
	return nil
}

func (s *Service) enqueue(ctx context.Context, p BatchPayload, at time.Time) error {
	task, err := NewBatchTask(p, at)
	if err != nil {
		return err
	}
	if _, err := s.d.Tasks.EnqueueContext(ctx, task); err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		return fmt.Errorf("queueing campaign batch: %w", err)
	}
	return nil
}

// definition returns a campaign's definition (cached: it never changes).
func (s *Service) definition(ctx context.Context, id string) (*Definition, error) {
	s.defMu.Lock()
	d := s.defs[id]
	s.defMu.Unlock()
	if d != nil {
		return d, nil
	}
	raw, err := s.d.Redis.HGet(ctx, s.keys.campaign(id), "def").Result()
	if errors.Is(err, redis.Nil) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("reading campaign: %w", err)
	}
	d = &Definition{}
	if err := json.Unmarshal([]byte(raw), d); err != nil {
		return nil, fmt.Errorf("decoding campaign: %w", err)
	}
	s.defMu.Lock()
	if len(s.defs) > 1000 {
		s.defs = map[string]*Definition{}
	}
	s.defs[id] = d
	s.defMu.Unlock()
	return d, nil
}

// finalize frees what a finished campaign no longer needs and sets the
// retention of the rest (idempotent).
func (s *Service) finalize(ctx context.Context, id string) {
	pipe := s.d.Redis.Pipeline()
	pipe.Del(ctx, s.keys.aud(id), s.keys.tmp(id), s.keys.later(id), s.keys.done(id))
	for _, k := range []string{s.keys.campaign(id), s.keys.stats(id), s.keys.rcpt(id)} {
		pipe.PExpire(ctx, k, s.cfg.Retention)
	}
	if _, err := pipe.Exec(context.WithoutCancel(ctx)); err != nil {
		s.d.Log.Warn("finalizing campaign", zap.String("campaign", id), zap.Error(err))
	}
	s.defMu.Lock()
	delete(s.defs, id)
	s.defMu.Unlock()
}
