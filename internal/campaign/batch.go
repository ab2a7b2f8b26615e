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
	"time"

	"github.com/hibiken/asynq"
	"github.com/kefu-gateway/kefu/adapters"
	"github.com/kefu-gateway/kefu/internal/contacts"
	"github.com/kefu-gateway/kefu/internal/followup"
	"github.com/kefu-gateway/kefu/internal/ratelimit"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// processBatch sends to one batch of recipients (or the deferred ones now
// due, looping until none is).
func (s *Service) processBatch(ctx context.Context, t *asynq.Task) error {
	var p BatchPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || !validID(p.ID) {
		return fmt.Errorf("decoding campaign batch task: %w", asynq.SkipRetry)
	}
	for {
		m, err := s.meta(ctx, p.ID)
		if err != nil || m == nil {
			return err
		}
		if m.Status != StatusRunning || m.Gen != p.Gen {
			if m.Status == StatusCompleted || m.Status == StatusCancelled {
				s.finalize(ctx, p.ID)
			}
			return nil
		}
		def, err := s.definition(ctx, p.ID)
		if err != nil {
			return err
		}
		var ids []string
		if p.Later {
			ids, err = s.d.Redis.ZRangeByScore(ctx, s.keys.later(p.ID), &redis.ZRangeBy{Min: "-inf",
				Max: strconv.FormatInt(s.d.Clock.Now().UnixMilli(), 10), Count: int64(s.cfg.BatchSize)}).Result()
		} else {
			start := p.N * int64(s.cfg.BatchSize)
			ids, err = s.d.Redis.ZRange(ctx, s.keys.aud(p.ID), start, start+int64(s.cfg.BatchSize)-1).Result()
		}
		if err != nil {
			return fmt.Errorf("reading campaign batch: %w", err)
		}
		b := &batch{s: s, p: p, def: def, token: newToken(), log: s.d.Log.With(zap.String("campaign", p.ID))}
		err = b.run(ctx, ids)
		if b.finished() {
			s.finalize(ctx, p.ID)
		}
		if err != nil || b.halted {
			return err
		}
		if !p.Later {
			if err := s.d.Redis.SAdd(ctx, s.keys.done(p.ID), p.N).Err(); err != nil {
				return fmt.Errorf("recording campaign batch: %w", err)
			}
			return nil
		}
		if len(ids) < s.cfg.BatchSize {
			// Wake again for the next deferred recipients, if any (they
			// may wait for a later end of quiet hours, in another zone).
			next, err := s.d.Redis.ZRangeWithScores(ctx, s.keys.later(p.ID), 0, 0).Result()
			if err != nil {
				return fmt.Errorf("reading deferred recipients: %w", err)
			}
			if len(next) > 0 {
				at := time.UnixMilli(int64(next[0].Score))
				if now := s.d.Clock.Now(); !at.After(now) {
					at = now.Add(time.Second)
				}
				return s.enqueue(ctx, BatchPayload{ID: p.ID, Gen: p.Gen, Later: true}, at)
			}
			return nil
		}
	}
}

func newToken() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// batch is one run over a list of recipients.
type batch struct {
	s     *Service
	p     BatchPayload
	def   *Definition
	token string
	log   *zap.Logger
	// halted is set when the campaign stopped (paused, cancelled, a newer
	// generation) during the run.
	halted bool
	status string
}

func (b *batch) finished() bool {
	return b.status == StatusCompleted || b.status == StatusCancelled
}

// candidate is a recipient that passed the checks made before the send.
type candidate struct {
	id    string
	c     *contacts.Contact
	ident contacts.Identity
	a     adapters.Adapter
}

// settlement is a recipient settled without a send: kind "k" (skipped),
// "f" (failed) or "d" (deferred, arg = due ms).
type settlement struct{ id, kind, arg string }

func (b *batch) run(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	s := b.s
	o := s.d.Outreach
	pipe := s.d.Redis.Pipeline()
	states := pipe.HMGet(ctx, s.keys.rcpt(b.p.ID), ids...)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("reading campaign recipients: %w", err)
	}
	cs, err := o.Contacts().GetEach(ctx, ids)
	if err != nil {
		return err
	}
	now := s.d.Clock.Now()
	var settle []settlement
	var cands []candidate
	var inflight []string
	aud := b.def.Audience
	for i, id := range ids {
		st, _ := states.Val()[i].(string)
		switch {
		case st == "d" && !b.p.Later:
			continue // the deferred recipients' own task handles it
		case strings.HasPrefix(st, "i:"):
			inflight = append(inflight, id)
			continue
		case st != "" && st != "d":
			continue // settled
		}
		c := cs[i]
		if c == nil {
			settle = append(settle, settlement{id, "k", ReasonNoContact})
			continue
		}
		if c.ID != id {
			// Merged into another contact, which is reached under its own
			// id if it is in the audience.
			settle = append(settle, settlement{id, "k", ReasonMerged})
			continue
		}
		v := o.Consent(c, now)
		if v.Outcome == followup.OutcomeDeferred {
			settle = append(settle, settlement{id, "d", strconv.FormatInt(v.Until.UnixMilli(), 10)})
			continue
		}
		if !v.OK() {
			settle = append(settle, settlement{id, "k", v.Reason})
			continue
		}
		var ident contacts.Identity
		var ok bool
		if aud.Channel != "" {
			ident, ok = c.Identity(aud.Channel, aud.Account)
		} else {
			ident, ok = c.LatestIdentity()
		}
		if !ok {
			settle = append(settle, settlement{id, "k", followup.ReasonNoIdentity})
			continue
		}
		a, v := o.Adapter(ident)
		if !v.OK() {
			settle = append(settle, settlement{id, "k", v.Reason})
			continue
		}
		cands = append(cands, candidate{id: id, c: c, ident: ident, a: a})
	}
	// Who is being served by a human, and whose window is closed.
	if len(cands) > 0 {
		convs := make([]string, len(cands))
		for i, c := range cands {
			convs[i] = followup.ConversationID(c.ident)
		}
		owners, err := o.Owners(ctx, convs)
		if err != nil {
			return err
		}
		kept := cands[:0]
		for i, c := range cands {
			if owners[i] != "" {
				settle = append(settle, settlement{c.id, "k", followup.ReasonHumanOwned})
				continue
			}
			w, err := o.Window(ctx, c.a, c.ident)
			if err != nil {
				return err
			}
			if !w.Open {
				settle = append(settle, settlement{c.id, "k", followup.ReasonWindowClosed})
				continue
			}
			kept = append(kept, c)
		}
		cands = kept
	}
	if err := b.settle(ctx, settle); err != nil || b.halted {
		return err
	}
	var released []candidate
	for _, c := range cands {
		if err := ctx.Err(); err != nil {
			return err
		}
		r, err := b.send(ctx, c)
		if err != nil {
			return err
		}
		if b.halted {
			return nil
		}
		if r == "release" {
			released = append(released, c)
		}
	}
	for _, id := range inflight {
		if err := b.awaitInflight(ctx, id); err != nil {
			return err
		}
	}
	b.refreshStatus(ctx)
	if len(released) > 0 {
		retried, _ := asynq.GetRetryCount(ctx)
		maxRetry, hasMax := asynq.GetMaxRetry(ctx)
		if hasMax && retried >= maxRetry {
			var fail []settlement
			for _, c := range released {
				fail = append(fail, settlement{c.id, "f", followup.ReasonError})
			}
			return b.settle(ctx, fail)
		}
		if b.p.Later {
			// They came from the deferred set: put them back, due now, so
			// the retry finds them there.
			var again []settlement
			now := strconv.FormatInt(s.d.Clock.Now().UnixMilli(), 10)
			for _, c := range released {
				again = append(again, settlement{c.id, "d", now})
			}
			if err := b.settle(ctx, again); err != nil {
				return err
			}
		}
		return fmt.Errorf("%d recipients of campaign %s failed temporarily; retrying the batch", len(released), b.p.ID)
	}
	return nil
}

// settle applies settlements in one round trip and queues a wake-up for
// deferred recipients.
func (b *batch) settle(ctx context.Context, list []settlement) error {
	if len(list) == 0 {
		return nil
	}
	s := b.s
	args := []any{b.p.Gen, s.d.Clock.Now().UnixMilli()}
	wake := map[int64]time.Time{}
	for _, x := range list {
		args = append(args, x.id, x.kind, x.arg)
		if x.kind == "d" {
			ms, _ := strconv.ParseInt(x.arg, 10, 64)
			at := time.UnixMilli(ms)
			wake[at.Unix()/60] = at
		} else {
			s.d.Outreach.Count(b.def.Audience.Channel, map[string]string{"k": followup.OutcomeSkipped, "f": followup.OutcomeFailed}[x.kind])
		}
	}
	res, err := settleScript.Run(ctx, s.d.Redis, s.scriptKeys(b.p.ID), args...).Text()
	if err != nil {
		return fmt.Errorf("settling campaign recipients: %w", err)
	}
	if res == "halt" {
		b.halted = true
		return nil
	}
	for _, at := range wake {
		if err := s.enqueue(ctx, BatchPayload{ID: b.p.ID, Gen: b.p.Gen, Later: true}, at); err != nil {
			return err
		}
	}
	b.refreshStatus(ctx)
	return nil
}

func (b *batch) refreshStatus(ctx context.Context) {
	st, _ := b.s.d.Redis.HGet(ctx, b.s.keys.campaign(b.p.ID), "status").Result()
	b.status = st
}

// send claims a recipient, sends and settles it. It returns "release"
// when a temporary failure put the recipient back in the queue.
func (b *batch) send(ctx context.Context, c candidate) (string, error) {
	s := b.s
	o := s.d.Outreach
	buckets := []ratelimit.Bucket{s.limiter.Bucket("campaign", b.p.ID, *b.def.Rate), o.ChannelBucket(c.ident)}
	if err := s.limiter.Wait(ctx, buckets...); err != nil {
		return "", err
	}
	now := s.d.Clock.Now()
	keys := append(s.scriptKeys(b.p.ID), o.Contacts().Keys().Contact(c.id))
	res, err := claimScript.Run(ctx, s.d.Redis, keys, c.id, b.p.Gen, b.token, now.Add(s.d.Lease).UnixMilli(), now.UnixMilli()).Slice()
	if err != nil {
		return "", fmt.Errorf("claiming campaign recipient: %w", err)
	}
	switch r, _ := res[0].(string); r {
	case "ok":
	case "halt":
		b.halted = true
		b.status, _ = res[1].(string)
		return "", nil
	case "skipped":
		o.Count(c.ident.Channel, followup.OutcomeSkipped)
		return "", nil
	case "inflight":
		return "", b.awaitInflight(ctx, c.id)
	default:
		return "", nil // settled meanwhile
	}
	err = o.Send(ctx, c.a, c.c, c.ident, b.def.Content, "cmp:"+b.p.ID+":"+c.id)
	result := "s"
	if err != nil {
		var se *followup.SendError
		if !errors.As(err, &se) {
			se = &followup.SendError{Outcome: followup.OutcomeFailed, Reason: followup.ReasonError, Retry: true, Err: err}
		}
		switch {
		case se.Retry:
			result = "release"
		case se.Outcome == followup.OutcomeSkipped:
			result = "k:" + se.Reason
		default:
			result = "f:" + se.Reason
		}
		if !se.Retry {
			o.Count(c.ident.Channel, se.Outcome)
			// Debug: a broken channel would log once per recipient; the
			// campaign's counters say how many and why.
			b.log.Debug("campaign recipient not sent", zap.String("contact", c.id), zap.String("reason", se.Reason), zap.Error(se.Err))
		} else {
			b.log.Warn("campaign send failed; will retry", zap.String("contact", c.id), zap.Error(se.Err))
		}
	}
	fin, err := finishScript.Run(context.WithoutCancel(ctx), s.d.Redis, s.scriptKeys(b.p.ID), c.id, b.token, result, s.d.Clock.Now().UnixMilli()).Text()
	if err != nil {
		return "", fmt.Errorf("settling campaign recipient: %w", err)
	}
	if fin == "stale" {
		b.log.Warn("campaign recipient settled by someone else while sending", zap.String("contact", c.id))
	}
	return result, nil
}

// awaitInflight waits for a recipient another worker is sending until it
// is settled, or its lease runs out: then that worker died mid-send and the
// recipient is settled as failed (interrupted), never sent again.
func (b *batch) awaitInflight(ctx context.Context, id string) error {
	s := b.s
	for {
		st, err := s.d.Redis.HGet(ctx, s.keys.rcpt(b.p.ID), id).Result()
		if errors.Is(err, redis.Nil) || (err == nil && !strings.HasPrefix(st, "i:")) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading campaign recipient: %w", err)
		}
		parts := strings.Split(st, ":")
		lease, _ := strconv.ParseInt(parts[len(parts)-1], 10, 64)
		now := s.d.Clock.Now().UnixMilli()
		if now >= lease {
			if _, err := interruptScript.Run(ctx, s.d.Redis, s.scriptKeys(b.p.ID), id, st, now).Result(); err != nil {
				return fmt.Errorf("settling interrupted recipient: %w", err)
			}
			b.log.Warn("campaign recipient interrupted mid-send; not sent again", zap.String("contact", id))
			return nil
		}
		wait := min(time.Duration(lease-now)*time.Millisecond, 200*time.Millisecond)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}
