package wecomapp

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// memberLimiter keeps one app's sends to each member within WeCom's limits:
// at most 30 per minute and 1000 per hour per member; beyond them the
// platform drops messages silently (PROTOCOLS.md §3.2). Every send first
// reserves a slot in a sliding log shared by all kefu processes: a Redis
// sorted set per member whose scores are the send times (ms), including
// sends reserved for later. A reservation is never earlier than the latest
// one already made, so messages to one member leave in the order they were
// reserved.
//
// Key: <prefix>wecomapp:sends:<account>:<userid>, TTL one hour after the
// latest reservation.
type memberLimiter struct {
	rdb    redis.UniversalClient
	prefix string
	limit  MemberLimit
	now    func() time.Time
}

// safetyMargin widens both windows a little: a queued send leaves up to one
// worker poll interval after its slot, and WeCom's own clock differs from ours.
const safetyMargin = time.Second

// reserveScript finds the earliest time t >= now at which one more send keeps
// both windows within their limits, after every send already reserved, and
// records it.
//
//	KEYS: 1 the member's sorted set
//	ARGV: 1 now ms, 2 per-minute limit, 3 per-hour limit, 4 minute window ms,
//	      5 hour window ms, 6 spacing ms after a reservation still in the
//	      future, 7 unique member suffix
var reserveScript = redis.NewScript(`
local now = tonumber(ARGV[1])
local perMin, perHour = tonumber(ARGV[2]), tonumber(ARGV[3])
local minWin, hourWin = tonumber(ARGV[4]), tonumber(ARGV[5])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - hourWin)
local t = now
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if #last > 0 then
  local ls = tonumber(last[2])
  if ls > now then t = ls + tonumber(ARGV[6]) end
end
local n = redis.call('ZCARD', KEYS[1])
if n >= perMin then
  local e = redis.call('ZRANGE', KEYS[1], n - perMin, n - perMin, 'WITHSCORES')
  t = math.max(t, tonumber(e[2]) + minWin)
end
if n >= perHour then
  local e = redis.call('ZRANGE', KEYS[1], n - perHour, n - perHour, 'WITHSCORES')
  t = math.max(t, tonumber(e[2]) + hourWin)
end
redis.call('ZADD', KEYS[1], t, t .. ':' .. ARGV[7])
redis.call('PEXPIRE', KEYS[1], t - now + hourWin)
return t
`)

// Reserve books the next send slot to user and returns when it is.
func (l *memberLimiter) Reserve(ctx context.Context, user string) (time.Time, error) {
	var suffix [6]byte
	_, _ = rand.Read(suffix[:])
	now := l.now()
	at, err := reserveScript.Run(ctx, l.rdb, []string{l.prefix + user},
		now.UnixMilli(), l.limit.PerMinute, l.limit.PerHour,
		(time.Minute + safetyMargin).Milliseconds(), (time.Hour + safetyMargin).Milliseconds(),
		l.limit.QueueSpacing.Milliseconds(), hex.EncodeToString(suffix[:]),
	).Int64()
	if err != nil {
		return time.Time{}, fmt.Errorf("reserving a wecom app send slot: %w", err)
	}
	return time.UnixMilli(at), nil
}
