package store

// Keys is kefu's Redis key schema, in one place. Every key starts with the
// configured prefix (default "kefu:"). Keys that a Lua script touches
// together carry the conversation id in a {hash tag} so they live in one
// Cluster slot.
//
//	dedup:{channel}:{account}:{id}      string, TTL router.dedup_ttl   inbound message seen (SET NX)
//	conv:{<conv>}                       hash  v (version) d (state JSON) o (owner), TTL router.state_ttl
//	tx:{<conv>}                         stream of transcript entries (field m = message JSON), capped
//	pending:{<conv>}                    list of replies waiting for the customer's next message
//	burst:{<conv>}                      list of a burst's messages waiting to be merged; burst:{<conv>}:last its newest id
//	pub:<conv>                          pub/sub channel: "<entry id>\n<message JSON>" for every transcript entry of channels read live (web)
//	rl:{scope}:{id}                     string counter, TTL = window (rate limits)
//	web:secret                          string, the shared web-token signing secret when none is configured
//	outprog:{task id}                   string, how many parts of an outbound task were sent
//	outseq:{<conv>} / outdone:{<conv>}  counters ordering a conversation's outbound tasks (issued / finished)
//	outskip:{<conv>}                    set of outbound task numbers given out but never queued
//	undeliverable                       stream of messages that could not be delivered, with the reason
//	win:{channel}:{account}:{customer}  hash kind -> "<remaining>:<expiry ms>": reply windows and quotas (adapters/internal/window)
//	token:wechat:{credential|stable}:{appid}   platform access tokens shared by every process (adapters/internal/wxtoken),
//	token:wecom:{corpid}:{agentid|kf}          each with a refresh lock beside it
//	token:dingtalk:{appkey}
//
// Contacts, follow-ups and campaigns (internal/contacts, internal/followup,
// internal/campaign) share the hash tag {ct}: one Cluster slot, so one Lua
// script checks a contact's opt-out while it claims a follow-up or a
// campaign recipient.
//
//	{ct}:c:<cid>                        hash  name, pname, tz, union, opt (opt-out ms), opt_src, created, first, last, lin
//	{ct}:c:<cid>:a / :t / :i / :n       attributes hash / tags set / identities hash (key → JSON) / notes list (capped)
//	{ct}:id                             hash  "<channel>/<account>/<user id>" → cid
//	{ct}:union                          hash  WeChat UnionID → cid
//	{ct}:alias                          hash  merged-away cid → cid it became
//	{ct}:seen                           zset  cid by last seen ms
//	{ct}:tag:<tag>                      set   cids with the tag
//	{ct}:ch:<channel>[/<account>]       set   cids with an identity there
//	{ct}:fu:<cid>                       hash  "<conv>|<follow-up id>" → follow-up record JSON, TTL followups.retention after the last due
//	{ct}:cmps                           zset  campaign ids by creation ms
//	{ct}:cmp:<id>                       hash  definition, status, generation, times, total; TTL campaigns.retention once finished
//	{ct}:cmp:<id>:st                    hash  counters (sent, skipped, failed, inflight, deferred, skipped:<reason>, failed:<reason>)
//	{ct}:cmp:<id>:r                     hash  cid → recipient state (i:<token>:<lease> | s | k:<reason> | f:<reason> | d)
//	{ct}:cmp:<id>:aud / :later / :bd    audience zset by position / deferred cids by due ms / finished batch numbers
//	{rl}:<scope>:<id>                   string GCRA theoretical arrival time (µs), TTL until refilled: send:<channel>:<account>, campaign:<id>
//
// The handoff (handoff/keys.go) keeps every key under one {ho} hash tag, so
// its assignment scripts touch queues, agents and records in one slot:
//
//	{ho}:q:<queue>                      zset conv -> request time ms: customers waiting, longest first
//	{ho}:c:<conv>                       hash: the conversation's handoff (hid status queue agent seq req asg cl al ...), TTL handoff.record_ttl once ended
//	{ho}:presence                       zset agent -> presence end ms (heartbeat: every agent message)
//	{ho}:a:<agent>                      hash off ("1" after /offline), cur (current conversation), last (assignment counter)
//	{ho}:ac:<agent>                     zset conv -> assignment ms: the agent's open conversations (load = ZCARD)
//	{ho}:claims                         zset conv -> lease end ms: assignments claimed but not yet carried out
//	{ho}:seq                            counter ordering assignments (round robin, ties)
//	{ho}:notes:<conv>                   list of agents' internal notes (JSON), capped
//	{ho}:csatq:<conv>                   hash: the open rating question (hid agent entry asked), TTL csat.window
//	{ho}:csat:c:<conv>                  list of the conversation's ratings (JSON)
//	{ho}:csat:agents                    hash <agent>:n <agent>:sum <agent>:s1..s5
//	{ho}:csat:log                       stream of every rating
//	{ho}:msgs                           stream of messages customers left for the agents
//	{ho}:leftseen:<agent>               id of the last left message the agent was told of, TTL 30 days
//	{ho}:leftshown:<agent>              hash n (last number), <number> -> left message id: /callback's numbers, the latest 200, TTL 7 days
//	{ho}:leftback:<message id>          the agent who called back the customer of a left message, TTL 7 days
//	contact:{<conv>}:tags               set of the customer's tags from /tag, only without the contacts store (handoff.RedisTags)
type Keys struct {
	Prefix string
}

// Dedup is the key marking an inbound message as seen.
func (k Keys) Dedup(channel, account, id string) string {
	return k.Prefix + "dedup:" + channel + ":" + account + ":" + id
}

// Conversation is the conversation-state hash.
func (k Keys) Conversation(conv string) string { return k.Prefix + "conv:{" + conv + "}" }

// Transcript is the conversation's transcript stream.
func (k Keys) Transcript(conv string) string { return k.Prefix + "tx:{" + conv + "}" }

// Pending holds replies deferred to the customer's next message.
func (k Keys) Pending(conv string) string { return k.Prefix + "pending:{" + conv + "}" }

// Burst holds a burst of messages being merged into one turn.
func (k Keys) Burst(conv string) string { return k.Prefix + "burst:{" + conv + "}" }

// BurstLast names the newest message of a burst.
func (k Keys) BurstLast(conv string) string { return k.Prefix + "burst:{" + conv + "}:last" }

// ConversationChannel is the pub/sub channel carrying the conversation's new entries.
func (k Keys) ConversationChannel(conv string) string { return k.Prefix + "pub:" + conv }

// RateLimit is a fixed-window counter.
func (k Keys) RateLimit(scope, id string) string { return k.Prefix + "rl:" + scope + ":" + id }

// WebSecret is the generated web-token signing secret.
func (k Keys) WebSecret() string { return k.Prefix + "web:secret" }

// OutboundProgress counts the parts of an outbound task already sent.
func (k Keys) OutboundProgress(taskID string) string { return k.Prefix + "outprog:" + taskID }

// Window is the prefix of reply-window hashes (see adapters/internal/window).
func (k Keys) Window() string { return k.Prefix + "win:" }

// OutboundSeq numbers a conversation's outbound tasks.
func (k Keys) OutboundSeq(conv string) string { return k.Prefix + "outseq:{" + conv + "}" }

// OutboundDone is the highest finished outbound task number of a conversation.
func (k Keys) OutboundDone(conv string) string { return k.Prefix + "outdone:{" + conv + "}" }

// OutboundSkipped holds the outbound task numbers of a conversation that
// were given out but never queued: no task will finish them.
func (k Keys) OutboundSkipped(conv string) string { return k.Prefix + "outskip:{" + conv + "}" }

// Undeliverable is the stream of messages that could not be delivered.
func (k Keys) Undeliverable() string { return k.Prefix + "undeliverable" }
