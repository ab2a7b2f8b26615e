// Package window tracks, per customer, what a platform lets the business send
// on its own, shared by every kefu process through Redis.
//
// WeChat-family platforms grant quotas when the customer does something:
// an official-account message allows 5 customer-service messages within 48 h,
// a menu click, a follow or a QR scan allows 3 within a minute (PROTOCOLS.md
// §1.5); a mini-program message allows 5 within 48 h and entering the
// customer-service session 2 within a minute (§2); a 微信客服 message allows 5
// within 48 h (§3.3). Each such action is a Grant. A new grant of the same
// kind replaces the old one (the customer wrote again: the 48 h restart with
// a fresh quota); grants of other kinds live side by side. Sending takes one
// message from the grant that expires first.
package window

import (
	"context"
	"fmt"
	"hash/fnv"
	"strconv"
	"time"

	"github.com/kefu-gateway/kefu/adapters"
	"github.com/kefu-gateway/kefu/internal/store"
	"github.com/redis/go-redis/v9"
)

// Grant is what one customer action allows.
type Grant struct {
	// Kind names the action ("message", "click", "enter_session" ...).
	Kind string
	// Count is how many messages may be sent; Within how long.
	Count  int
	Within time.Duration
}

// Common grants (PROTOCOLS.md §1.5, §2, §3.3).
var (
	OAMessage        = Grant{Kind: "message", Count: 5, Within: 48 * time.Hour}
	OAEvent          = Grant{Kind: "event", Count: 3, Within: time.Minute}
	MPMessage        = Grant{Kind: "message", Count: 5, Within: 48 * time.Hour}
	MPEnterSession   = Grant{Kind: "enter_session", Count: 2, Within: time.Minute}
	KFMessage        = Grant{Kind: "message", Count: 5, Within: 48 * time.Hour}
	closedNoGrant    = "no customer message within the reply window"
	closedQuotaSpent = "reply quota used up"
)

// Tracker keeps grants in Redis hashes: one per customer, field "<kind>"
// = "<remaining>:<expiry unix ms>".
type Tracker struct {
	rdb    redis.UniversalClient
	batch  *store.Batcher
	prefix string
	now    func() time.Time
}

// New returns a tracker whose keys start with prefix (e.g. "kefu:win:").
// It sends its grants through batch, the gateway's shared batcher, in the
// pipelines of the other work on inbound messages; nil gives it a batcher
// of its own. now may be nil for the wall clock.
func New(rdb redis.UniversalClient, batch *store.Batcher, prefix string, now func() time.Time) *Tracker {
	if now == nil {
		now = time.Now
	}
	if batch == nil {
		batch = store.NewBatcher(rdb)
	}
	return &Tracker{rdb: rdb, batch: batch, prefix: prefix, now: now}
}

// Key is the customer's hash key: channel, account and platform id.
func (t *Tracker) Key(channel, account, customer string) string {
	return t.prefix + channel + ":" + account + ":" + customer
}

// armScript records one grant and keeps the key alive for an hour past its
// longest grant, in one round trip. A grant replaces the one of its kind
// only when it runs later, so an action armed from its own time (Arming.At)
// and seen again — a 微信客服 page read again after a failed batch —
// changes nothing and never hands back quota already used on it. Nor does
// the action that armed the current grant, named by its source
// (Arming.Source, kept in the sibling field "<kind>#"). The time covers a
// retry arriving after a newer message; the source covers the case the
// time cannot: an action stamped ahead of kefu's clock is armed from
// "now" (armArgs), so its retry seconds later would run later.
//
//	KEYS: 1 customer hash; ARGV: 1 kind, 2 count, 3 expiry unix ms, 4 source
var armScript = redis.NewScript(`
local cur = redis.call('HMGET', KEYS[1], ARGV[1], ARGV[1] .. '#')
if ARGV[4] ~= '' and cur[2] == ARGV[4] then return -1 end
local exp = cur[1] and tonumber(string.match(cur[1], ':(%d+)$'))
if exp and exp >= tonumber(ARGV[3]) then return -1 end
if ARGV[4] ~= '' then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. ':' .. ARGV[3], ARGV[1] .. '#', ARGV[4])
else
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. ':' .. ARGV[3])
  redis.call('HDEL', KEYS[1], ARGV[1] .. '#')
end
local longest = 0
for _, v in ipairs(redis.call('HVALS', KEYS[1])) do
  local e = tonumber(string.match(v, ':(%d+)$'))
  if e and e > longest then longest = e end
end
redis.call('PEXPIREAT', KEYS[1], longest + 3600000)
return longest`)

// Arm records a grant for the customer from an action happening now.
func (t *Tracker) Arm(ctx context.Context, key string, g Grant) error {
	return t.ArmMany(ctx, []Arming{{Key: key, Grant: g}}, nil)[0]
}

// armArgs runs the grant from when the customer acted (the platform's
// timestamp of the message or event), or from now when that is unknown or
// ahead of kefu's clock. Two actions of one kind within the same
// millisecond count as one grant, which errs on the side of sending less.
func (t *Tracker) armArgs(a Arming) []any {
	now := t.now()
	at := a.At
	if at.IsZero() || at.After(now) {
		at = now
	}
	return []any{a.Grant.Kind, a.Grant.Count, at.Add(a.Grant.Within).UnixMilli(), sourceTag(a.Source)}
}

// sourceTag is what the grant's hash keeps of its source: a fixed-width
// digest, so a platform id of any length or alphabet costs 16 bytes and
// never reads as a "<remaining>:<expiry>" grant.
func sourceTag(source string) string {
	if source == "" {
		return ""
	}
	h := fnv.New64a()
	h.Write([]byte(source))
	return strconv.FormatUint(h.Sum64()|1<<63, 16)
}

// Arming is one grant for one customer's key.
type Arming struct {
	Key   string
	Grant Grant
	// At is when the customer acted; zero means now.
	At time.Time
	// Source names the action (the platform's message id, or the event's
	// dedup id), so that the same action delivered again — a platform
	// retry, a page read again — does not renew its grant even when At was
	// ahead of kefu's clock and the grant ran from now. Every caller that
	// knows the id passes it; empty only when unknown.
	Source string
}

// ArmMany records several grants in one round trip (one pipeline), for
// callers that collect the grants of many inbound messages (a 微信客服
// page). The result has one error (or nil) per arming. along, when not
// nil, queues the caller's own commands on the same pipeline (a 微信客服
// page records which kf account each customer last wrote to); their
// results are in them afterwards, and they run once, even when the grants
// must be sent again after NOSCRIPT. Nothing is sent when there are no
// grants.
func (t *Tracker) ArmMany(ctx context.Context, arms []Arming, along func(redis.Pipeliner)) []error {
	if len(arms) == 0 {
		return nil
	}
	cmds, pipe := t.armCmds(ctx, arms)
	if along != nil {
		along(pipe)
	}
	if err := t.batch.Exec(ctx, pipe.Cmds()); err != nil {
		return armFailed(len(arms), err)
	}
	return t.settle(ctx, arms, cmds)
}

// ArmAsync starts recording a's grant and returns at once, so the caller
// answers the message meanwhile; wait returns the outcome once the grant is
// stored. Grants of messages arriving together share a pipeline with each
// other and with the router's turns (the tracker's batcher).
func (t *Tracker) ArmAsync(ctx context.Context, a Arming) (wait func() error) {
	arms := []Arming{a}
	cmds, pipe := t.armCmds(ctx, arms)
	done := t.batch.Send(ctx, pipe.Cmds())
	return func() error {
		select {
		case <-done:
		case <-ctx.Done():
			return fmt.Errorf("recording reply window: %w", ctx.Err())
		}
		return t.settle(ctx, arms, cmds)[0]
	}
}

// armCmds queues one arm script call per grant on a new pipeline.
func (t *Tracker) armCmds(ctx context.Context, arms []Arming) ([]*redis.Cmd, redis.Pipeliner) {
	cmds := make([]*redis.Cmd, len(arms))
	pipe := t.rdb.Pipeline()
	for i, a := range arms {
		cmds[i] = armScript.EvalSha(ctx, pipe, []string{a.Key}, t.armArgs(a)...)
	}
	return cmds, pipe
}

// settle turns the sent grants' replies into one error (or nil) each. On
// the first use since Redis started (NOSCRIPT) it loads the script and
// sends the grants again.
func (t *Tracker) settle(ctx context.Context, arms []Arming, cmds []*redis.Cmd) []error {
	if err := cmds[0].Err(); store.IsNoScript(err) {
		if err := armScript.Load(ctx, t.rdb).Err(); err != nil {
			return armFailed(len(arms), err)
		}
		var pipe redis.Pipeliner
		cmds, pipe = t.armCmds(ctx, arms)
		if err := t.batch.Exec(ctx, pipe.Cmds()); err != nil {
			return armFailed(len(arms), err)
		}
	}
	out := make([]error, len(arms))
	for i, c := range cmds {
		if err := c.Err(); err != nil && err != redis.Nil {
			out[i] = fmt.Errorf("recording reply window: %w", err)
		}
	}
	return out
}

func armFailed(n int, err error) []error {
	out := make([]error, n)
	for i := range out {
		out[i] = fmt.Errorf("recording reply window: %w", err)
	}
	return out
}

// takeScript consumes one message from the live grant expiring first.
// Returns {1, remaining total, closes ms} on success, {0, reason} when closed.
var takeScript = redis.NewScript(`
local now = tonumber(ARGV[1])
local take = ARGV[2] == '1'
local fields = redis.call('HGETALL', KEYS[1])
local best, bestExp, bestLeft = nil, nil, nil
local total, latest, live = 0, 0, 0
for i = 1, #fields, 2 do
  local left, exp = string.match(fields[i+1], '^(%d+):(%d+)$')
  left, exp = tonumber(left), tonumber(exp)
  if left and exp and exp > now then
    live = live + 1
    if left > 0 then
      total = total + left
      if exp > latest then latest = exp end
      if not bestExp or exp < bestExp then best, bestExp, bestLeft = fields[i], exp, left end
    end
  elseif left then
    redis.call('HDEL', KEYS[1], fields[i])
  end
end
if not best then
  if live > 0 then return {0, 'quota'} end
  return {0, 'none'}
end
if take then
  redis.call('HSET', KEYS[1], best, (bestLeft - 1) .. ':' .. bestExp)
  total = total - 1
end
return {1, total, latest}`)

// Take consumes one message of the customer's quota, returning the window
// as it is after the send. A closed window returns Open false and the
// reason; nothing is consumed then.
func (t *Tracker) Take(ctx context.Context, key string) (adapters.Window, error) {
	return t.run(ctx, key, true)
}

// Peek reports the window without consuming anything.
func (t *Tracker) Peek(ctx context.Context, key string) (adapters.Window, error) {
	return t.run(ctx, key, false)
}

// Refund gives back a message taken for a send that failed before reaching
// the platform, to the grant of that kind if it is still live.
var refundScript = redis.NewScript(`
local v = redis.call('HGET', KEYS[1], ARGV[1])
if not v then return 0 end
local left, exp = string.match(v, '^(%d+):(%d+)$')
if tonumber(exp) <= tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], (tonumber(left) + 1) .. ':' .. exp)
return 1`)

// Refund returns one message to the grant of kind.
func (t *Tracker) Refund(ctx context.Context, key, kind string) error {
	return refundScript.Run(ctx, t.rdb, []string{key}, kind, t.now().UnixMilli()).Err()
}

// Close empties the customer's window, for when the platform says it is
// closed (45015) although kefu's record said otherwise.
func (t *Tracker) Close(ctx context.Context, key string) error {
	return t.rdb.Del(ctx, key).Err()
}

func (t *Tracker) run(ctx context.Context, key string, take bool) (adapters.Window, error) {
	res, err := takeScript.Run(ctx, t.rdb, []string{key}, t.now().UnixMilli(), store.ScriptFlag(take)).Slice()
	if err != nil {
		return adapters.Window{}, fmt.Errorf("checking reply window: %w", err)
	}
	if n, _ := res[0].(int64); n == 0 {
		reason := closedNoGrant
		if s, _ := res[1].(string); s == "quota" {
			reason = closedQuotaSpent
		}
		return adapters.Window{Open: false, Reason: reason}, nil
	}
	left, _ := res[1].(int64)
	closes, _ := res[2].(int64)
	return adapters.Window{Open: true, Remaining: int(left), Closes: time.UnixMilli(closes)}, nil
}
