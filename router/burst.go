package router

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/kefu-gateway/kefu/adapters/message"
	"github.com/redis/go-redis/v9"
)

// A burst is several short messages a customer sends one after another
// ("在吗" / "我想问下" / "退货怎么弄"). Answering each on its own gives three
// answers beside the point; kefu waits the channel's MergeWindow after each
// text, and the last message of the burst is answered with all of them.
// The buffer is in Redis, so a burst spread over several kefu processes
// (platform retries and load balancers do that) merges just the same.

// takeBurstScript returns the buffered burst and clears it when the caller's
// message is still the newest, else nothing (a later message will answer).
//
//	KEYS: 1 burst list, 2 burst last id; ARGV: 1 the caller's message id
var takeBurstScript = redis.NewScript(`
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return false end
local items = redis.call('LRANGE', KEYS[1], 0, -1)
redis.call('DEL', KEYS[1], KEYS[2])
return items`)

// mergeable reports whether msg may join a burst: customer text only.
func mergeable(m message.Message) bool {
	return m.Kind == message.KindText && m.Text != "" && m.IsCustomer()
}

// joinBurst marks msg as seen, adds it to the conversation's burst and waits
// the merge window. It returns dup when the message was seen before, and
// burst == nil when a later message of the burst will answer for this one.
func (r *Router) joinBurst(ctx context.Context, t *turn, window time.Duration) (dup bool, burst []message.Message, err error) {
	conv := t.msg.ConversationID
	b, err := encodeJSON(&t.msg)
	if err != nil {
		return false, nil, fmt.Errorf("encoding burst message: %w", err)
	}
	ttl := window*4 + 10*time.Second
	pipe := r.rdb.Pipeline()
	seen := pipe.SetNX(ctx, r.keys.Dedup(t.msg.Channel, t.msg.Account, t.msg.ID), 1, r.cfg.DedupTTL)
	if _, err := pipe.Exec(ctx); err != nil {
		return false, nil, fmt.Errorf("marking message seen: %w", err)
	}
	if !seen.Val() {
		return true, nil, nil
	}
	pipe = r.rdb.TxPipeline()
	pipe.RPush(ctx, r.keys.Burst(conv), b)
	pipe.PExpire(ctx, r.keys.Burst(conv), ttl)
	pipe.Set(ctx, r.keys.BurstLast(conv), t.msg.ID, ttl)
	if _, err := pipe.Exec(ctx); err != nil {
		return false, nil, fmt.Errorf("adding to burst: %w", err)
	}
	select {
	case <-time.After(window):
	case <-ctx.Done():
		return false, nil, ctx.Err()
	}
	res, err := takeBurstScript.Run(ctx, r.rdb, []string{r.keys.Burst(conv), r.keys.BurstLast(conv)}, t.msg.ID).Result()
	if err == redis.Nil {
		return false, nil, nil
	}
	if err != nil {
		return false, nil, fmt.Errorf("taking burst: %w", err)
	}
	items, _ := res.([]any)
	for _, it := range items {
		s, _ := it.(string)
		var m message.Message
		if decodeJSON([]byte(s), &m) == nil {
			burst = append(burst, m)
		}
	}
	if len(burst) == 0 {
		burst = []message.Message{t.msg}
	}
	return false, burst, nil
}

// mergeText is the burst's texts, one per line, as the answer's input.
func mergeText(burst []message.Message) string {
	parts := make([]string, 0, len(burst))
	for _, m := range burst {
		parts = append(parts, strings.TrimSpace(m.Text))
	}
	return strings.Join(parts, "\n")
}
