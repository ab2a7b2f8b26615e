package router

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strconv"

	"github.com/kefu-gateway/kefu/adapters/message"
	"github.com/kefu-gateway/kefu/flows"
	"github.com/kefu-gateway/kefu/internal/contacts"
	"github.com/kefu-gateway/kefu/internal/store"
	"github.com/kefu-gateway/kefu/workers"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// loaded is what the first round trip of a turn returns.
type loaded struct {
	duplicate bool
	conv      *Conversation
	pending   []message.Message
	contact   *ContactView
}

// load marks the message with dedupKey as seen (unless dedupKey is empty)
// and reads the conversation's state and deferred replies, in one pipelined
// round trip.
func (r *Router) load(ctx context.Context, conv, dedupKey string, observe *message.Message) (*loaded, error) {
	pipe := r.rdb.Pipeline()
	var seen *redis.BoolCmd
	if dedupKey != "" {
		seen = pipe.SetNX(ctx, dedupKey, 1, r.cfg.DedupTTL)
	}
	var readContact func() (ContactView, error)
	if observe != nil && r.contacts != nil && observe.IsCustomer() && observe.From.ID != "" {
		var err error
		if readContact, err = r.contacts.ObservePipe(ctx, pipe, *observe); err != nil {
			r.log.Debug("not observing contact", zap.Error(err))
		}
	}
	state := pipe.HMGet(ctx, r.keys.Conversation(conv), "v", "d", "o")
	pend := pipe.LRange(ctx, r.keys.Pending(conv), 0, -1)
	if err := r.batch.Exec(ctx, pipe.Cmds()); err != nil {
		return nil, fmt.Errorf("loading conversation: %w", err)
	}
	// Judge the turn's own commands: a failed contact observation (say
	// NOSCRIPT after a Redis restart) is handled by readContact and must not
	// fail the turn.
	for _, cmd := range []redis.Cmder{seen, state, pend} {
		if cmd == nil || reflect.ValueOf(cmd).IsNil() {
			continue
		}
		if err := cmd.Err(); err != nil && !errors.Is(err, redis.Nil) {
			return nil, fmt.Errorf("loading conversation: %w", err)
		}
	}
	out := &loaded{}
	if seen != nil && !seen.Val() {
		out.duplicate = true
		return out, nil
	}
	if readContact != nil {
		if v, err := readContact(); err == nil {
			out.contact = &v
		} else {
			r.log.Warn("observing contact failed", zap.Error(err))
		}
	}
	c := &Conversation{}
	vals := state.Val()
	if s, ok := vals[1].(string); ok && s != "" {
		if err := decodeJSON([]byte(s), c); err != nil {
			// A state we cannot read must not wedge the customer: start over.
			r.log.Warn("discarding unreadable conversation state")
			c = &Conversation{}
		}
	}
	if s, ok := vals[0].(string); ok {
		c.Version, _ = strconv.ParseInt(s, 10, 64)
	}
	if s, ok := vals[2].(string); ok {
		c.Owner = s
	}
	out.conv = c
	for _, p := range pend.Val() {
		var m message.Message
		if err := decodeJSON([]byte(p), &m); err == nil {
			out.pending = append(out.pending, m)
		}
	}
	return out, nil
}

// commitScript atomically checks the conversation's version, saves its
// state, drops the deferred replies this turn delivers, appends the turn's
// messages to the transcript and publishes each of them. Asked to, it also
// gives the turn's replies the conversation's next outbound number: given
// out here, in the step that orders the turns, the numbers follow the
// turns even when two processes commit consecutive turns and the first is
// slower to queue its replies.
//
// A one-trip turn (see oneTrip) names its dedup key: it was answered before
// its message was deduplicated, from the state this process committed
// last, for a conversation the bot owns with no deferred replies, and with
// the contact this process remembers. The script checks each (the contact
// with contact_touch_check, contacts.TouchLua), marks the message seen only
// when it commits, and then moves the contact's times itself
// (contact_touch_apply): the contact observation costs no script call of
// its own.
//
//	KEYS: 1 conversation hash, 2 transcript stream, 3 pending list,
//	      and only when numbering: 4 outbound counter, 5 outbound done,
//	      6 outbound skipped
//	ARGV: 1 expected version, 2 state JSON, 3 state TTL ms, 4 transcript max,
//	      5 transcript TTL ms, 6 pub/sub channel, 7 pending delivered count,
//	      8 bot reply allowed only when owner is empty ("1"/"0"),
//	      9 number the replies ("1"/"0"), 10 outbound numbering TTL ms,
//	      11 one-trip dedup key ("" = not a one-trip turn), 12 its TTL ms,
//	      13-17 the contact's touch (RecalledContact.TouchArgs: key prefix,
//	      now ms, contact id, identity key, version; 13 = "" for none),
//	      18.. message JSON, one per entry
//
// Returns {outbound number or 0, entry id ...}, or -1 on a version
// conflict, -2 when bot replies are refused because a human owns the
// conversation; for a one-trip turn also -3 when the message was seen
// before, -4 when the contact changed and -5 when replies are deferred. A
// refusal writes nothing.
var commitScript = redis.NewScript(workers.NextOutboundNumberLua + contacts.TouchLua + `
local oneTrip = ARGV[11] ~= ''
local tc, th
-- A one-trip turn marks its message seen first, in the step that tells
-- whether it was; a refusal after that takes the mark back (refuse).
if oneTrip and not redis.call('SET', ARGV[11], '1', 'NX', 'PX', ARGV[12]) then return -3 end
local function refuse(code)
  if oneTrip then redis.call('DEL', ARGV[11]) end
  return code
end
local h = redis.call('HMGET', KEYS[1], 'v', 'o')
if (h[1] or '0') ~= ARGV[1] then return refuse(-1) end
if h[2] and h[2] ~= '' and (oneTrip or ARGV[8] == '1') then return refuse(-2) end
if oneTrip then
  if redis.call('LLEN', KEYS[3]) > 0 then return refuse(-5) end
  if ARGV[13] ~= '' then
    tc, th = contact_touch_check(ARGV[13], ARGV[15], ARGV[16], ARGV[17])
    if not tc then return refuse(-4) end
  end
end
redis.call('HSET', KEYS[1], 'v', tonumber(ARGV[1]) + 1, 'd', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
local n = tonumber(ARGV[7])
if n > 0 then redis.call('LTRIM', KEYS[3], n, -1) end
local out = {0}
if ARGV[9] == '1' then out[1] = next_outbound_number(KEYS[4], KEYS[5], KEYS[6], ARGV[10]) end
for i = 18, #ARGV do
  local id = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], '*', 'm', ARGV[i])
  out[#out + 1] = id
  if ARGV[6] ~= '' then redis.call('PUBLISH', ARGV[6], 'm' .. id .. '\n' .. ARGV[i]) end
end
if #out > 1 then redis.call('PEXPIRE', KEYS[2], ARGV[5]) end
if tc then contact_touch_apply(ARGV[13], tonumber(ARGV[14]), ARGV[15], ARGV[16], tc, th) end
return out
`)

// encodeState encodes conv for the commit. A state that cannot be encoded
// (a value JSON has no form for) would fail this turn and every later one
// of the customer, each retry included: instead the flow position and the
// components' state are dropped, with an error logged, and the customer
// starts over while the turn's replies still go out.
func (r *Router) encodeState(conv *Conversation) ([]byte, error) {
	state, err := encodeJSON(conv)
	if err == nil {
		return state, nil
	}
	r.metrics.Errors.WithLabelValues("router").Inc()
	r.log.Error("conversation state cannot be encoded; resetting its flow", zap.String("conversation", conv.ID),
		zap.String("flow", conv.Flow.Flow), zap.Error(err))
	conv.Flow, conv.Ext = flows.State{}, nil
	state, err = encodeJSON(conv)
	if err != nil {
		return nil, fmt.Errorf("encoding conversation state: %w", err)
	}
	return state, nil
}

var (
	errConflict   = errors.New("conversation changed during the turn")
	errHumanOwned = errors.New("a human owns the conversation")
	// The refusals of a one-trip turn's commit besides those two.
	errSeen           = errors.New("message seen before")
	errContactChanged = errors.New("contact changed")
	errDeferred       = errors.New("replies are deferred")
)

// commitOptions is what a commit does besides saving the state and
// appending the entries.
type commitOptions struct {
	// pendingDelivered is how many deferred replies the turn delivers;
	// they leave the pending list.
	pendingDelivered int
	// botReplies says the entries include bot replies, which are refused
	// when a human took the conversation meanwhile.
	botReplies bool
	// publish puts the entries on the conversation's pub/sub channel
	// (channels whose customers read the transcript live).
	publish bool
	// numberOutbound gives the replies the conversation's next outbound
	// number: set when they surely go through the active API.
	numberOutbound bool
	// oneTrip is set for a turn answered before its message was
	// deduplicated (see oneTrip): the key that marks the message seen, and
	// the contact's guard.
	oneTrip *oneTripCommit
}

// touchArgs is how many arguments contacts.TouchLua's functions take
// (RecalledContact.TouchArgs).
const touchArgs = 5

// noTouch fills the touch's arguments of a commit that observes no contact.
var noTouch = []any{"", "", "", "", ""}

// oneTripCommit is what a one-trip turn's commit checks besides the
// version, and the contact observation it runs (touchArgs arguments, or
// none).
type oneTripCommit struct {
	dedupKey string
	touch    []any
}

// commit saves conv and appends entries to the transcript, returning their
// ids and, when opts.numberOutbound is set, the replies' outbound number.
func (r *Router) commit(ctx context.Context, conv *Conversation, opts commitOptions, entries []message.Message) (ids []string, seq int64, err error) {
	pipe := r.rdb.Pipeline()
	call, err := r.queueCommit(ctx, pipe, conv, opts, entries)
	if err != nil {
		return nil, 0, err
	}
	if err := r.batch.Exec(ctx, pipe.Cmds()); err != nil {
		return nil, 0, fmt.Errorf("committing turn: %w", err)
	}
	return call.result(ctx)
}

// commitCall is a commit queued on a pipeline.
type commitCall struct {
	r     *Router
	conv  *Conversation
	cmd   *redis.Cmd
	keys  []string
	args  []any
	state []byte
}

// queueCommit queues conv's commit on pipe; read it with result once the
// pipeline ran.
func (r *Router) queueCommit(ctx context.Context, pipe redis.Pipeliner, conv *Conversation, opts commitOptions, entries []message.Message) (*commitCall, error) {
	state, err := r.encodeState(conv)
	if err != nil {
		return nil, err
	}
	args := make([]any, 0, 17+len(entries))
	channel := ""
	if opts.publish {
		channel = r.keys.ConversationChannel(conv.ID)
	}
	args = append(args, conv.Version, state, r.cfg.StateTTL.Milliseconds(), r.cfg.TranscriptMax,
		r.cfg.TranscriptTTL.Milliseconds(), channel, opts.pendingDelivered, store.ScriptFlag(opts.botReplies),
		store.ScriptFlag(opts.numberOutbound), workers.OutboundOrderTTL.Milliseconds())
	touch := noTouch
	if o := opts.oneTrip; o != nil {
		args = append(args, o.dedupKey, r.cfg.DedupTTL.Milliseconds())
		if o.touch != nil {
			touch = o.touch
		}
	} else {
		args = append(args, "", "")
	}
	args = append(args, touch...)
	for i := range entries {
		b, err := encodeJSON(&entries[i])
		if err != nil {
			return nil, fmt.Errorf("encoding transcript entry: %w", err)
		}
		args = append(args, b)
	}
	keys := []string{r.keys.Conversation(conv.ID), r.keys.Transcript(conv.ID), r.keys.Pending(conv.ID)}
	if opts.numberOutbound {
		keys = append(keys, r.keys.OutboundSeq(conv.ID), r.keys.OutboundDone(conv.ID), r.keys.OutboundSkipped(conv.ID))
	}
	// The script goes by its hash with the other turns' commands; after a
	// Redis restart or flush it goes again with its source, which loads it.
	cmd := commitScript.EvalSha(ctx, pipe, keys, args...)
	return &commitCall{r: r, conv: conv, cmd: cmd, keys: keys, args: args, state: state}, nil
}

// result reads the commit's reply. A committed state is remembered for the
// conversation's next one-trip turn (see oneTripStates); a refusal other
// than a retry's forgets what was remembered.
func (c *commitCall) result(ctx context.Context) (ids []string, seq int64, err error) {
	ids, seq, err = c.read(ctx)
	switch {
	case err == nil && c.conv.BotOwned():
		c.r.states.put(c.conv.ID, c.conv.Version+1, c.state)
	case !errors.Is(err, errSeen):
		c.r.states.drop(c.conv.ID)
	}
	return ids, seq, err
}

func (c *commitCall) read(ctx context.Context) (ids []string, seq int64, err error) {
	res, err := c.cmd.Result()
	if store.IsNoScript(err) {
		res, err = commitScript.Eval(ctx, c.r.rdb, c.keys, c.args...).Result()
	}
	if err != nil {
		return nil, 0, fmt.Errorf("committing turn: %w", err)
	}
	switch v := res.(type) {
	case int64:
		switch v {
		case -2:
			return nil, 0, errHumanOwned
		case -3:
			return nil, 0, errSeen
		case -4:
			return nil, 0, errContactChanged
		case -5:
			return nil, 0, errDeferred
		}
		return nil, 0, errConflict
	case []any:
		if len(v) > 0 {
			seq, _ = v[0].(int64)
			ids = make([]string, len(v)-1)
			for i, x := range v[1:] {
				ids[i], _ = x.(string)
			}
			return ids, seq, nil
		}
	}
	return nil, 0, fmt.Errorf("committing turn: unexpected reply %T", res)
}
