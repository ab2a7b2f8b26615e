package handoff

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/hibiken/asynq"
	"go.uber.org/zap"
)

// claimBatch is how many waiting conversations one claim script looks at.
const claimBatch = 20

// assignAll assigns from every queue, the queue whose head has waited
// longest first, so no queue starves the others of shared agents.
func (s *Service) assignAll(ctx context.Context) error {
	type head struct {
		id    string
		since float64
	}
	var heads []head
	for _, q := range s.queueOrder {
		zs, err := s.rdb.ZRangeWithScores(ctx, s.keys.queue(q.ID), 0, 0).Result()
		if err != nil {
			return fmt.Errorf("reading queue %s: %w", q.ID, err)
		}
		if len(zs) > 0 {
			heads = append(heads, head{q.ID, zs[0].Score})
		}
	}
	sort.SliceStable(heads, func(i, j int) bool { return heads[i].since < heads[j].since })
	for _, h := range heads {
		if _, err := s.assignQueue(ctx, h.id); err != nil {
			return err
		}
	}
	return nil
}

// assignQueue gives waiting customers of one queue to online agents with
// free capacity, carries the assignments out, and updates the positions of
// those still waiting. It returns the conversations assigned.
func (s *Service) assignQueue(ctx context.Context, queue string) ([]string, error) {
	cands := s.queueAgents[queue]
	if len(cands) == 0 {
		return nil, nil
	}
	var assigned []string
	for {
		convs, err := s.rdb.ZRange(ctx, s.keys.queue(queue), 0, claimBatch-1).Result()
		if err != nil {
			return assigned, fmt.Errorf("reading queue %s: %w", queue, err)
		}
		if len(convs) == 0 {
			break
		}
		if !s.anyOnline(ctx, cands) {
			break
		}
		// Arm the recovery before claiming: if this worker dies between
		// the claim and carrying it out, the recovery finishes the job.
		if err := s.armRecovery(ctx, s.clock.Now().Add(s.cfg.ClaimLease)); err != nil {
			return assigned, err
		}
		pairs, err := s.claim(ctx, queue, cands, convs)
		if err != nil {
			return assigned, err
		}
		for i := 0; i+1 < len(pairs); i += 2 {
			conv := pairs[i]
			if s.afterClaim != nil {
				s.afterClaim(conv)
			}
			if err := s.complete(ctx, conv); err != nil {
				// The claim stays; recovery carries it out after its lease.
				s.logErr("carrying out an assignment failed; it will be retried", err, zapConv(conv))
				continue
			}
			assigned = append(assigned, conv)
		}
		if len(pairs) == 0 || len(convs) < claimBatch {
			break
		}
	}
	if len(assigned) > 0 {
		// Positions only improve when someone leaves the line.
		s.updatePositions(ctx, queue)
	}
	return assigned, nil
}

// anyOnline reports whether any of the agents is online (the claim script
// decides for good; this only saves arming a recovery for nothing while
// everyone is away).
func (s *Service) anyOnline(ctx context.Context, cands []*AgentConfig) bool {
	on, err := s.online(ctx, cands)
	return err != nil || slices.Contains(on, true) // on error the script decides
}

// claim runs claimScript and returns conversation, agent pairs.
func (s *Service) claim(ctx context.Context, queue string, cands []*AgentConfig, convs []string) ([]string, error) {
	now := s.clock.Now()
	keys := []string{s.keys.queue(queue), s.keys.presence(), s.keys.claims(), s.keys.assignSeq()}
	args := []any{ms(now), ms(now.Add(s.cfg.ClaimLease)), s.cfg.Strategy, len(cands), len(convs)}
	for _, a := range cands {
		keys = append(keys, s.keys.agent(a.ID), s.keys.agentConvs(a.ID))
		args = append(args, a.ID)
	}
	for _, a := range cands {
		args = append(args, a.MaxConcurrent)
	}
	for _, c := range convs {
		keys = append(keys, s.keys.record(c))
		args = append(args, c)
	}
	pairs, err := claimScript.Run(ctx, s.rdb, keys, args...).StringSlice()
	if err != nil {
		return nil, fmt.Errorf("claiming conversations of queue %s: %w", queue, err)
	}
	return pairs, nil
}

// recoverClaims carries out assignments whose worker died (or stalled past
// the lease) after claiming them.
func (s *Service) recoverClaims(ctx context.Context) error {
	now := s.clock.Now()
	due, err := recoverScript.Run(ctx, s.rdb, []string{s.keys.claims()}, ms(now), ms(now.Add(s.cfg.ClaimLease)), 50).StringSlice()
	if err != nil {
		return fmt.Errorf("recovering assignments: %w", err)
	}
	var first error
	for _, conv := range due {
		s.log.Warn("finishing an assignment another worker left half-done", zapConv(conv))
		if err := s.complete(ctx, conv); err != nil && first == nil {
			first = err
		}
	}
	// Claims still under lease may belong to a worker that is about to
	// die: look again when the earliest lease ends.
	next, err := s.rdb.ZRangeWithScores(ctx, s.keys.claims(), 0, 0).Result()
	if err != nil {
		return fmt.Errorf("reading assignment claims: %w", err)
	}
	if len(next) > 0 {
		if err := s.armRecovery(ctx, time.UnixMilli(int64(next[0].Score))); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// armRecovery schedules a recovery run after a claim lease ending at
// leaseEnd. asynq schedules to the second (it compares Unix seconds), so
// the run is put a second past the lease; one run per second is enough, so
// the task id is the second.
func (s *Service) armRecovery(ctx context.Context, leaseEnd time.Time) error {
	at := leaseEnd.Add(time.Second).Truncate(time.Second)
	t, err := NewRecoverTask(asynq.ProcessIn(s.after(at)), asynq.TaskID("ho-recover-"+strconv.FormatInt(at.Unix(), 10)))
	if err := s.enqueue(ctx, t, err); err != nil {
		return fmt.Errorf("arming assignment recovery: %w", err)
	}
	return nil
}

// complete carries out a claimed assignment: the owner becomes the agent,
// the customer is greeted, the agent gets the notice with the customer's
// context, and the idle timer starts. Every step may run twice (a crash
// after a step, then recovery) without the customer or the agent seeing
// anything twice: the notice is a task with an id per assignment, the
// greeting is marked in the record.
func (s *Service) complete(ctx context.Context, conv string) error {
	r, err := s.readRecord(ctx, conv)
	if err != nil {
		return err
	}
	if r == nil || r.Status != StatusAssigned {
		return s.rdb.ZRem(ctx, s.keys.claims(), conv).Err()
	}
	a := s.agents[r.Agent]
	if a == nil {
		// The agent left the configuration: put the customer back.
		s.log.Warn("assigned agent is no longer configured; requeueing", zapConv(conv), zap.String("agent", r.Agent))
		return s.requeue(ctx, r, r.Queue, false)
	}
	if _, err := s.setOwner(ctx, conv, OwnerAgentPrefix+a.ID); err != nil {
		return err
	}
	notice := s.notice(ctx, r, a)
	if r.Greeted < r.Seq {
		text := fill(s.cfg.Texts.Assigned, vars{Agent: a.Name})
		switch {
		case r.From != "":
			text = fill(s.cfg.Texts.Transferred, vars{Agent: a.Name})
		case r.callBack():
			text = fill(s.cfg.Texts.CallBack, vars{Agent: a.Name})
		}
		if err := s.tell(ctx, r, text); err != nil {
			return err
		}
		if err := s.rdb.HSet(ctx, s.keys.record(conv), fGr, r.Seq).Err(); err != nil {
			return fmt.Errorf("marking the greeting: %w", err)
		}
	}
	if err := s.sendAgent(ctx, a, notice, "ho-notice-"+r.ID+"-"+strconv.Itoa(r.Seq)); err != nil {
		return err
	}
	timer := TimerPayload{Conversation: conv, Handoff: r.ID, Seq: r.Seq}
	if err := s.scheduleIdle(ctx, timer, r.Assigned.Add(s.cfg.IdleReminder)); err != nil {
		return err
	}
	if r.fromQueue() {
		s.m.assignments.WithLabelValues(r.Queue).Inc()
		s.m.wait.WithLabelValues(r.Queue).Observe(r.Assigned.Sub(r.Requested).Seconds())
	}
	s.log.Info("conversation assigned", zapConv(conv), zap.String("agent", a.ID), zapQueue(r.Queue),
		zap.Int("seq", r.Seq), zap.Duration("waited", r.Assigned.Sub(r.Requested)))
	return s.rdb.ZRem(ctx, s.keys.claims(), conv).Err()
}

// updatePositions tells waiting customers their new place when it
// improved, at most once per position_interval each.
func (s *Service) updatePositions(ctx context.Context, queue string) {
	convs, err := s.rdb.ZRange(ctx, s.keys.queue(queue), 0, 99).Result()
	if err != nil || len(convs) == 0 {
		return
	}
	pipe := s.rdb.Pipeline()
	recs := make([]interface{ Val() map[string]string }, len(convs))
	for i, c := range convs {
		recs[i] = pipe.HGetAll(ctx, s.keys.record(c))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		s.logErr("reading queue records failed", err, zapQueue(queue))
		return
	}
	now := s.clock.Now()
	for i, c := range convs {
		r := parseRecord(c, recs[i].Val())
		pos := i + 1
		if r == nil || r.Status != StatusQueued || r.Position == 0 || pos >= r.Position ||
			now.Sub(r.PositionAt) < s.cfg.PositionInterval {
			continue
		}
		s.logErr("telling the queue position failed", s.tellPosition(ctx, r, pos, s.cfg.Texts.Position), zapConv(c))
	}
}
