package handoff

import "github.com/kefu-gateway/kefu/internal/store"

// keys are the handoff's Redis keys (schema in internal/store/keys.go).
// Every one carries the {ho} hash tag, so the assignment scripts, which
// touch queues, agents and records together, run on one Cluster slot.
// Handoffs are human-scale (agents answer a few conversations each), so
// one slot is never the bottleneck. The conversation hash (owner field o)
// lives in the conversation's own slot and is changed in a separate step.
type keys struct{ store.Keys }

func (k keys) p() string { return k.Prefix + "{ho}:" }

// queue is a sorted set of waiting conversation ids, scored by request time (ms).
func (k keys) queue(id string) string { return k.p() + "q:" + id }

// record is a conversation's handoff hash (see record.go for the fields).
func (k keys) record(conv string) string { return k.p() + "c:" + conv }

// presence is a sorted set of agent ids scored by when their presence expires (ms).
func (k keys) presence() string { return k.p() + "presence" }

// agent is an agent's hash: off ("1" after /offline), cur (current
// conversation), last (last assignment, ms).
func (k keys) agent(id string) string { return k.p() + "a:" + id }

// agentConvs is a sorted set of an agent's open conversations, scored by assignment time (ms).
func (k keys) agentConvs(id string) string { return k.p() + "ac:" + id }

// claims is a sorted set of assignments not yet carried out, scored by
// when their lease ends (ms); another worker finishes them after that.
func (k keys) claims() string { return k.p() + "claims" }

// notes is a conversation's list of agents' internal notes (JSON).
func (k keys) notes(conv string) string { return k.p() + "notes:" + conv }

// csatAsk is the open rating question of a conversation (hash).
func (k keys) csatAsk(conv string) string { return k.p() + "csatq:" + conv }

// csatConv is a conversation's list of ratings (JSON), newest last.
func (k keys) csatConv(conv string) string { return k.p() + "csat:c:" + conv }

// csatAgents is a hash of per-agent rating counters: <agent>:n, <agent>:sum, <agent>:s<1-5>.
func (k keys) csatAgents() string { return k.p() + "csat:agents" }

// csatLog is a stream of every rating.
func (k keys) csatLog() string { return k.p() + "csat:log" }

// messages is a stream of messages customers left for the agents.
func (k keys) messages() string { return k.p() + "msgs" }

// leftCursor is the id of the last left message the agent was told of.
func (k keys) leftCursor(agent string) string { return k.p() + "leftseen:" + agent }

// leftShown numbers the left messages the agent was shown (see
// numberShown).
func (k keys) leftShown(agent string) string { return k.p() + "leftshown:" + agent }

// calledBack holds the agent who called back the customer of a left message.
func (k keys) calledBack(id string) string { return k.p() + "leftback:" + id }

// assignSeq numbers assignments, for round-robin.
func (k keys) assignSeq() string { return k.p() + "seq" }

// tags is a contact's set of tags, keyed by conversation (one customer on one account).
func (k keys) tags(conv string) string { return k.Prefix + "contact:{" + conv + "}:tags" }
