package ratelimit_test

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kefu-gateway/kefu/internal/clock"
	"github.com/kefu-gateway/kefu/internal/ratelimit"
	"github.com/kefu-gateway/kefu/internal/store"
	"github.com/kefu-gateway/kefu/internal/testutil/redistest"
	"gopkg.in/yaml.v3"
)

var keys = store.Keys{Prefix: "kefu:"}

func TestGCRABurstThenSustainedRate(t *testing.T) {
	db := redistest.New(t)
	clk := clock.NewFake(time.Unix(1_700_000_000, 0))
	// Two limiters on one Redis stand for two processes.
	a, b := ratelimit.New(db.Client, keys, clk), ratelimit.New(db.Client, keys, clk)
	rate := ratelimit.Rate{Events: 10, Per: time.Second, Burst: 3}
	ctx := context.Background()
	take := func(l *ratelimit.Limiter) time.Duration {
		t.Helper()
		d, err := l.Reserve(ctx, l.Bucket("send", "fake:acct", rate))
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	for i, l := range []*ratelimit.Limiter{a, b, a} {
		if d := take(l); d != 0 {
			t.Fatalf("burst event %d waited %s", i, d)
		}
	}
	if d := take(b); d != 100*time.Millisecond {
		t.Fatalf("4th event at once: wait %s, want 100ms", d)
	}
	clk.Advance(60 * time.Millisecond)
	if d := take(a); d != 40*time.Millisecond {
		t.Fatalf("after 60ms: wait %s, want 40ms", d)
	}
	clk.Advance(40 * time.Millisecond)
	if d := take(b); d != 0 {
		t.Fatalf("after 100ms: wait %s, want 0", d)
	}
	// Over 10 simulated seconds of steady demand, about 10/s go through.
	allowed := 0
	for i := 0; i < 10_000; i++ {
		clk.Advance(time.Millisecond)
		if take([]*ratelimit.Limiter{a, b}[i%2]) == 0 {
			allowed++
		}
	}
	if allowed < 99 || allowed > 101 {
		t.Fatalf("%d events allowed in 10s at 10/s", allowed)
	}
}

func TestReserveTakesFromAllBucketsOrNone(t *testing.T) {
	db := redistest.New(t)
	clk := clock.NewFake(time.Unix(1_700_000_000, 0))
	l := ratelimit.New(db.Client, keys, clk)
	ctx := context.Background()
	channel := l.Bucket("send", "fake:a", ratelimit.Rate{Events: 1, Per: time.Second, Burst: 2})
	campaign := l.Bucket("campaign", "c1", ratelimit.Rate{Events: 1, Per: time.Second, Burst: 1})
	other := l.Bucket("campaign", "c2", ratelimit.Rate{Events: 1, Per: time.Second, Burst: 1})
	if d, _ := l.Reserve(ctx, channel, campaign); d != 0 {
		t.Fatalf("first: %s", d)
	}
	// The campaign bucket is empty: nothing may be taken from the channel's.
	if d, _ := l.Reserve(ctx, channel, campaign); d != time.Second {
		t.Fatalf("second: %s, want 1s", d)
	}
	// So another campaign still gets the channel's second token.
	if d, _ := l.Reserve(ctx, channel, other); d != 0 {
		t.Fatalf("other campaign: %s, want 0 (the channel bucket must not have been drawn)", d)
	}
	if d, _ := l.Reserve(ctx, channel, ratelimit.Bucket{Key: "x", Rate: ratelimit.Unlimited}); d != time.Second {
		t.Fatalf("channel after two: %s", d)
	}
	if d, err := l.Reserve(ctx, ratelimit.Bucket{Key: "x", Rate: ratelimit.Unlimited}); d != 0 || err != nil {
		t.Fatalf("unlimited: %s %v", d, err)
	}
	if n, _ := db.Client.Exists(ctx, "x").Result(); n != 0 {
		t.Error("an unlimited bucket touched Redis")
	}
	ttl, _ := db.Client.PTTL(ctx, channel.Key).Result()
	if ttl <= 0 || ttl > 4*time.Second {
		t.Errorf("bucket TTL %s: buckets must expire soon after they refill", ttl)
	}
}

func TestWaitHoldsTheRateAcrossProcesses(t *testing.T) {
	db := redistest.New(t)
	// The Redis server's clock, shared by both "processes".
	a, b := ratelimit.New(db.Client, keys, nil), ratelimit.New(db.Client, keys, nil)
	rate := ratelimit.Rate{Events: 50, Per: time.Second, Burst: 1}
	ctx := context.Background()
	start := time.Now()
	var n atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := []*ratelimit.Limiter{a, b}[i%2]
			for j := 0; j < 3; j++ {
				if err := l.Wait(ctx, l.Bucket("send", "fake:w", rate)); err != nil {
					t.Error(err)
					return
				}
				n.Add(1)
			}
		}()
	}
	wg.Wait()
	// 24 events at 50/s with no burst need at least 23 intervals of 20ms.
	if el := time.Since(start); el < 23*20*time.Millisecond-5*time.Millisecond || n.Load() != 24 {
		t.Fatalf("%d events in %s: faster than 50/s", n.Load(), el)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	slow := ratelimit.Rate{Events: 1, Per: time.Hour, Burst: 1}
	_ = a.Wait(ctx, a.Bucket("send", "fake:slow", slow))
	if err := a.Wait(cctx, a.Bucket("send", "fake:slow", slow)); err == nil || !strings.Contains(err.Error(), "canceled") {
		t.Fatalf("Wait with a cancelled context: %v", err)
	}
}

func TestConfig(t *testing.T) {
	const y = `
default: 100/s
channels:
  - { channel: wechat_oa, rate: 20/s }
  - { channel: wechat_oa, account: shop, rate: 5/s burst 10 }
`
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(y), &n); err != nil {
		t.Fatal(err)
	}
	cfg, err := ratelimit.DecodeConfig(n.Content[0], "kefu.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ch := ratelimit.NewChannels(ratelimit.New(nil, keys, nil), cfg)
	for _, tc := range []struct{ channel, account, want string }{
		{"wechat_oa", "shop", "5/s burst 10"}, {"wechat_oa", "other", "20/s"}, {"web", "demo", "100/s"},
	} {
		if got := ch.Rate(tc.channel, tc.account).String(); got != tc.want {
			t.Errorf("%s/%s: %s, want %s", tc.channel, tc.account, got, tc.want)
		}
	}
	if k := ch.Bucket("wechat_oa", "shop").Key; k != "kefu:{rl}:send:wechat_oa:shop" {
		t.Errorf("bucket key %q", k)
	}
	for _, tc := range []struct{ y, want string }{
		{"channels:\n  - { channel: wechat_oa, rate: fast }\n", "kefu.yaml:2"},
		{"channels:\n  - { rate: 5/s }\n", "rate_limits.channels[0].channel: must name"},
		{"chanels: []\n", `unknown key (did you mean "channels"?)`},
		{"channels:\n  - { channel: web, rate: 1/s }\n  - { channel: web, rate: 2/s }\n", "duplicate line for web/"},
	} {
		var n yaml.Node
		if err := yaml.Unmarshal([]byte(tc.y), &n); err != nil {
			t.Fatal(err)
		}
		if _, err := ratelimit.DecodeConfig(n.Content[0], "kefu.yaml"); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.y, err, tc.want)
		}
	}
}
