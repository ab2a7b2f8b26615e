package handoff

import (
	"context"
	"fmt"
	"time"
)

// Presence modes of heartbeatScript.
const (
	beat    = "beat"    // any message from the agent: refresh unless they went /offline
	online  = "online"  // /online, /accept: online whatever came before
	offline = "offline" // /offline: no new customers until /online
)

// heartbeat records the agent's presence. WeCom has no presence API, so an
// agent is online while they keep writing: each message extends presence by
// presence_ttl. It reports whether the agent just came online, in which
// case waiting customers are assigned and the agent hears of the messages
// customers left meanwhile (noticeLeft).
func (s *Service) heartbeat(ctx context.Context, a *AgentConfig, mode string) (bool, error) {
	now := s.clock.Now()
	came, err := heartbeatScript.Run(ctx, s.rdb, []string{s.keys.presence(), s.keys.agent(a.ID)},
		a.ID, ms(now.Add(s.cfg.PresenceTTL)), mode, ms(now)).Int()
	if err != nil {
		return false, fmt.Errorf("recording agent presence: %w", err)
	}
	if came == 1 {
		s.triggerAssign(ctx, "")
		s.noticeLeft(ctx, a)
	}
	return came == 1, nil
}

// AgentState is an agent's presence and load.
type AgentState struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Online bool   `json:"online"`
	// Away is true after /offline (until /online).
	Away bool `json:"away"`
	// PresenceUntil is when presence expires without a new message.
	PresenceUntil time.Time `json:"presence_until,omitzero"`
	Load          int       `json:"load"`
	MaxConcurrent int       `json:"max_concurrent"`
	Skills        []string  `json:"skills"`
	Current       string    `json:"current,omitempty"`
	// Conversations are the open ones, oldest assignment first.
	Conversations []string `json:"conversations"`
}

// Agents returns every configured agent's presence and load.
func (s *Service) Agents(ctx context.Context) ([]AgentState, error) {
	now := s.clock.Now()
	pipe := s.rdb.Pipeline()
	type cmds struct {
		pres  interface{ Val() float64 }
		hash  interface{ Val() map[string]string }
		convs interface{ Val() []string }
	}
	cs := make([]cmds, len(s.agentOrder))
	for i, a := range s.agentOrder {
		cs[i] = cmds{
			pres:  pipe.ZScore(ctx, s.keys.presence(), a.ID),
			hash:  pipe.HGetAll(ctx, s.keys.agent(a.ID)),
			convs: pipe.ZRange(ctx, s.keys.agentConvs(a.ID), 0, -1),
		}
	}
	if _, err := pipe.Exec(ctx); err != nil && !isNil(err) {
		return nil, fmt.Errorf("reading agents: %w", err)
	}
	out := make([]AgentState, len(s.agentOrder))
	for i, a := range s.agentOrder {
		until := time.UnixMilli(int64(cs[i].pres.Val()))
		h := cs[i].hash.Val()
		convs := cs[i].convs.Val()
		st := AgentState{ID: a.ID, Name: a.Name, Away: h["off"] == "1", Load: len(convs), MaxConcurrent: a.MaxConcurrent,
			Skills: a.Skills, Current: h["cur"], Conversations: convs}
		if st.Conversations == nil {
			st.Conversations = []string{}
		}
		if st.Skills == nil {
			st.Skills = []string{}
		}
		if cs[i].pres.Val() > 0 {
			st.PresenceUntil = until
			st.Online = !st.Away && until.After(now)
		}
		out[i] = st
	}
	return out, nil
}
