package ratelimit

import (
	"context"
	"fmt"
	"time"

	"github.com/kefu-gateway/kefu/internal/clock"
	"github.com/kefu-gateway/kefu/internal/store"
	"github.com/redis/go-redis/v9"
)

// Bucket is one shared limit: a Redis key and its rate.
type Bucket struct {
	Key  string
	Rate Rate
}

// Limiter draws from buckets in Redis.
type Limiter struct {
	rdb    redis.UniversalClient
	prefix string
	// clock is the time source; nil uses the Redis server's clock, which
	// every process shares.
	clock clock.Clock
}

// New returns a limiter over rdb. With clk nil the Redis server's clock is
// used (recommended: processes on several hosts then agree on time); tests
// inject a fake clock.
func New(rdb redis.UniversalClient, keys store.Keys, clk clock.Clock) *Limiter {
	return &Limiter{rdb: rdb, prefix: keys.Prefix, clock: clk}
}

// Bucket names a bucket. All buckets share one Redis Cluster slot (hash tag
// {rl}), so one request can draw from several at once.
func (l *Limiter) Bucket(scope, id string, r Rate) Bucket {
	return Bucket{Key: l.prefix + "{rl}:" + scope + ":" + id, Rate: r}
}

// gcraScript takes one event from every bucket, or from none.
//
//	KEYS: the buckets
//	ARGV: 1 now in µs (0 = the server's TIME), then per bucket: interval µs, burst
//
// Returns 0 when the event was taken, else how many µs to wait before
// trying again (nothing is taken then).
var gcraScript = redis.NewScript(`
local now = tonumber(ARGV[1])
if now == 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local wait = 0
local tats = {}
for i, k in ipairs(KEYS) do
  local interval = tonumber(ARGV[2 * i])
  local burst = tonumber(ARGV[2 * i + 1])
  local tat = tonumber(redis.call('GET', k) or '0')
  if tat < now then tat = now end
  local over = tat - now - (burst - 1) * interval
  if over > wait then wait = over end
  tats[i] = tat + interval
end
if wait > 0 then return math.ceil(wait) end
for i, k in ipairs(KEYS) do
  redis.call('SET', k, string.format('%.0f', tats[i]), 'PX', math.ceil((tats[i] - now) / 1000) + 1000)
end
return 0
`)

// Reserve takes one event from every limited bucket when all of them allow
// it and returns 0; otherwise it takes nothing and returns how long to wait
// before trying again. Unlimited buckets are ignored.
func (l *Limiter) Reserve(ctx context.Context, buckets ...Bucket) (time.Duration, error) {
	keys := make([]string, 0, len(buckets))
	args := make([]any, 1, 1+2*len(buckets))
	if l.clock != nil {
		args[0] = l.clock.Now().UnixMicro()
	} else {
		args[0] = 0
	}
	for _, b := range buckets {
		if b.Rate.IsUnlimited() {
			continue
		}
		keys = append(keys, b.Key)
		args = append(args, b.Rate.Interval().Microseconds(), b.Rate.burst())
	}
	if len(keys) == 0 {
		return 0, nil
	}
	us, err := gcraScript.Run(ctx, l.rdb, keys, args...).Int64()
	if err != nil {
		return 0, fmt.Errorf("taking from rate limit %s: %w", keys[0], err)
	}
	return time.Duration(us) * time.Microsecond, nil
}

// Wait blocks until every bucket allows one more event and takes it, or ctx
// ends. It sleeps in real time, so it is meant for the Redis clock (New
// with a nil clock).
func (l *Limiter) Wait(ctx context.Context, buckets ...Bucket) error {
	for {
		d, err := l.Reserve(ctx, buckets...)
		if err != nil {
			return err
		}
		if d <= 0 {
			return nil
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("waiting for rate limit: %w", ctx.Err())
		case <-t.C:
		}
	}
}
