package campaign

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// meta is what a task reads about its campaign.
type meta struct {
	Status  string
	Gen     int64
	Built   bool
	Total   int64
	Batches int64
	Planned int64
}

func (s *Service) meta(ctx context.Context, id string) (*meta, error) {
	vals, err := s.d.Redis.HMGet(ctx, s.keys.campaign(id), "status", "gen", "built", "total", "batches", "planned").Result()
	if err != nil {
		return nil, fmt.Errorf("reading campaign: %w", err)
	}
	if vals[0] == nil {
		return nil, nil
	}
	str := func(i int) string { v, _ := vals[i].(string); return v }
	num := func(i int) int64 { n, _ := strconv.ParseInt(str(i), 10, 64); return n }
	return &meta{Status: str(0), Gen: num(1), Built: str(2) == "1", Total: num(3), Batches: num(4), Planned: num(5)}, nil
}

var errTooLarge = errors.New("audience too large")

// processPlan builds the audience (once) and queues the batches.
func (s *Service) processPlan(ctx context.Context, t *asynq.Task) error {
	var p PlanPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || !validID(p.ID) {
		return fmt.Errorf("decoding campaign plan task: %w", asynq.SkipRetry)
	}
	m, err := s.meta(ctx, p.ID)
	if err != nil || m == nil {
		return err
	}
	if m.Gen != p.Gen || (m.Status != StatusScheduled && m.Status != StatusRunning) {
		return nil
	}
	log := s.d.Log.With(zap.String("campaign", p.ID))
	if !m.Built {
		def, err := s.definition(ctx, p.ID)
		if err != nil {
			return err
		}
		start := time.Now()
		total, err := s.build(ctx, p.ID, def.Audience)
		if errors.Is(err, errTooLarge) {
			s.d.Redis.HSet(ctx, s.keys.campaign(p.ID), "status", StatusFailed, "error", err.Error(), "finished", s.d.Clock.Now().UnixMilli())
			log.Warn("campaign refused", zap.Error(err))
			return nil
		}
		if err != nil {
			return err
		}
		batches := (total + int64(s.cfg.BatchSize) - 1) / int64(s.cfg.BatchSize)
		status, err := builtScript.Run(ctx, s.d.Redis, s.scriptKeys(p.ID), total, batches, s.d.Clock.Now().UnixMilli()).Text()
		if err != nil {
			return fmt.Errorf("starting campaign: %w", err)
		}
		log.Info("campaign audience built", zap.Int64("total", total), zap.Int64("batches", batches), zap.Duration("took", time.Since(start)))
		if status == StatusCompleted {
			s.finalize(ctx, p.ID)
		}
		if status != StatusRunning {
			return nil
		}
		m.Batches = batches
	}
	now := s.d.Clock.Now()
	for n := m.Planned; n < m.Batches; n++ {
		if err := s.enqueue(ctx, BatchPayload{ID: p.ID, Gen: p.Gen, N: n}, now); err != nil {
			s.d.Redis.HSet(context.WithoutCancel(ctx), s.keys.campaign(p.ID), "planned", n)
			return err
		}
		if n%100 == 99 {
			s.d.Redis.HSet(ctx, s.keys.campaign(p.ID), "planned", n+1)
		}
	}
	s.d.Redis.HSet(ctx, s.keys.campaign(p.ID), "planned", m.Batches)
	return nil
}

const buildChunk = 1000

// build writes the audience into the :aud zset, scored by position, and
// returns its size. It reads the candidate set in chunks (SSCAN/ZSCAN) and
// filters each chunk in one pipelined round trip, so Redis is never blocked
// by a large audience.
func (s *Service) build(ctx context.Context, id string, a Audience) (int64, error) {
	ct := s.keys.ct
	rdb := s.d.Redis
	aud, tmp := s.keys.aud(id), s.keys.tmp(id)
	if err := rdb.Del(ctx, aud, tmp).Err(); err != nil {
		return 0, fmt.Errorf("building audience: %w", err)
	}
	// The candidate set, and the filters left to apply to it.
	var scan func(cursor uint64) ([]string, uint64, error)
	channelFilter := a.Channel != ""
	switch {
	case len(a.Tags) > 0:
		sets := make([]string, len(a.Tags))
		for i, t := range a.Tags {
			sets[i] = ct.Tag(t)
		}
		var err error
		if a.Match == "all" {
			err = rdb.SInterStore(ctx, tmp, sets...).Err()
		} else {
			err = rdb.SUnionStore(ctx, tmp, sets...).Err()
		}
		if err != nil {
			return 0, fmt.Errorf("building audience: %w", err)
		}
		scan = func(c uint64) ([]string, uint64, error) { return rdb.SScan(ctx, tmp, c, "", buildChunk).Result() }
	case a.Channel != "":
		set := ct.Channel(a.Channel, a.Account)
		channelFilter = false
		scan = func(c uint64) ([]string, uint64, error) { return rdb.SScan(ctx, set, c, "", buildChunk).Result() }
	default:
		scan = func(c uint64) ([]string, uint64, error) {
			kv, next, err := rdb.ZScan(ctx, ct.Seen(), c, "", buildChunk).Result()
			ids := make([]string, 0, len(kv)/2)
			for i := 0; i < len(kv); i += 2 {
				ids = append(ids, kv[i])
			}
			return ids, next, err
		}
	}
	var cutoff float64
	if a.ActiveWithinDays > 0 {
		cutoff = float64(s.d.Clock.Now().Add(-time.Duration(a.ActiveWithinDays) * 24 * time.Hour).UnixMilli())
	}
	pos := int64(0)
	cursor := uint64(0)
	for {
		ids, next, err := scan(cursor)
		if err != nil {
			return 0, fmt.Errorf("building audience: %w", err)
		}
		if len(ids) > 0 {
			members := make([]any, len(ids))
			for i, x := range ids {
				members[i] = x
			}
			pipe := rdb.Pipeline()
			var ch *redis.BoolSliceCmd
			if channelFilter {
				ch = pipe.SMIsMember(ctx, ct.Channel(a.Channel, a.Account), members...)
			}
			excl := make([]*redis.BoolSliceCmd, len(a.ExcludeTags))
			for i, t := range a.ExcludeTags {
				excl[i] = pipe.SMIsMember(ctx, ct.Tag(t), members...)
			}
			seen := make([]*redis.FloatCmd, 0)
			if cutoff > 0 {
				for _, x := range ids {
					seen = append(seen, pipe.ZScore(ctx, ct.Seen(), x))
				}
			}
			if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
				return 0, fmt.Errorf("building audience: %w", err)
			}
			var zs []redis.Z
			for i, x := range ids {
				if ch != nil && !ch.Val()[i] {
					continue
				}
				out := false
				for _, e := range excl {
					if e.Val()[i] {
						out = true
						break
					}
				}
				if out || (cutoff > 0 && seen[i].Val() < cutoff) {
					continue
				}
				zs = append(zs, redis.Z{Score: float64(pos), Member: x})
				pos++
			}
			if pos > int64(s.cfg.MaxAudience) {
				rdb.Del(ctx, aud, tmp)
				return 0, fmt.Errorf("%w: more than campaigns.max_audience (%d) contacts", errTooLarge, s.cfg.MaxAudience)
			}
			if len(zs) > 0 {
				if err := rdb.ZAdd(ctx, aud, zs...).Err(); err != nil {
					return 0, fmt.Errorf("building audience: %w", err)
				}
			}
		}
		cursor = next
		if cursor == 0 {
			break
		}
	}
	rdb.Del(ctx, tmp)
	n, err := rdb.ZCard(ctx, aud).Result()
	if err != nil {
		return 0, fmt.Errorf("building audience: %w", err)
	}
	return n, nil
}
