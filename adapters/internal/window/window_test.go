package window

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/kefu-gateway/kefu/internal/clock"
	"github.com/kefu-gateway/kefu/internal/metrics"
	"github.com/kefu-gateway/kefu/internal/testutil/redistest"
	dto "github.com/prometheus/client_model/go"
	"github.com/redis/go-redis/v9"
)

func TestWeChatWindowRules(t *testing.T) {
	db := redistest.New(t)
	clk := clock.NewFake(time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC))
	tr := New(db.Client, nil, "kefu:win:", clk.Now)
	ctx := context.Background()
	key := tr.Key("wechat_oa", "shop", "openid-1")

	if w, _ := tr.Take(ctx, key); w.Open || w.Reason != closedNoGrant {
		t.Fatalf("no customer action yet: %+v", w)
	}
	if err := tr.Arm(ctx, key, OAMessage); err != nil {
		t.Fatal(err)
	}
	for i := 4; i >= 0; i-- {
		w, err := tr.Take(ctx, key)
		if err != nil || !w.Open || w.Remaining != i {
			t.Fatalf("send %d: %+v %v", 5-i, w, err)
		}
	}
	if w, _ := tr.Take(ctx, key); w.Open || w.Reason != closedQuotaSpent {
		t.Fatalf("sixth send within 48 h: %+v, want quota used up (45047)", w)
	}
	// A menu click adds 3 within a minute.
	tr.Arm(ctx, key, OAEvent)
	if w, _ := tr.Peek(ctx, key); !w.Open || w.Remaining != 3 {
		t.Fatalf("after a click: %+v", w)
	}
	clk.Advance(2 * time.Minute)
	if w, _ := tr.Take(ctx, key); w.Open {
		t.Fatalf("the click's minute is over and the message quota was spent: %+v", w)
	}
	// The customer writes again: a fresh 5 within 48 h.
	tr.Arm(ctx, key, OAMessage)
	if w, _ := tr.Take(ctx, key); !w.Open || w.Remaining != 4 {
		t.Fatalf("re-armed: %+v", w)
	}
	if err := tr.Refund(ctx, key, "message"); err != nil {
		t.Fatal(err)
	}
	if w, _ := tr.Peek(ctx, key); w.Remaining != 5 {
		t.Fatalf("after a refund: %+v", w)
	}
	clk.Advance(48*time.Hour + time.Second)
	if w, _ := tr.Take(ctx, key); w.Open || w.Reason != closedNoGrant {
		t.Fatalf("48 h later: %+v, want closed (45015)", w)
	}
}

func TestGrantExpiringFirstIsUsedFirst(t *testing.T) {
	db, clk, tr := trackerOnFakeClock(t)
	ctx := context.Background()
	key := tr.Key("wechat_mp", "app", "u")
	tr.Arm(ctx, key, MPMessage)
	tr.Arm(ctx, key, MPEnterSession)
	tr.Take(ctx, key)
	tr.Take(ctx, key) // both from the session grant, which ends in a minute
	clk.Advance(2 * time.Minute)
	if w, _ := tr.Peek(ctx, key); !w.Open || w.Remaining != 5 {
		t.Fatalf("the 48 h grant must be untouched: %+v", w)
	}
	ttl := db.Client.PTTL(ctx, key).Val()
	if ttl < 47*time.Hour {
		t.Errorf("key TTL %s shorter than the longest grant", ttl)
	}
}

// ArmMany records each grant as Arm does, in one round trip. (It reloads
// the script on NOSCRIPT; this test does not flush scripts to show it,
// because SCRIPT FLUSH is server-wide and would break packages testing at
// the same time.)
func TestArmMany(t *testing.T) {
	db, _, tr := trackerOnFakeClock(t)
	ctx := context.Background()
	a, b := tr.Key("wechat_oa", "shop", "a"), tr.Key("wechat_oa", "shop", "b")
	errs := tr.ArmMany(ctx, []Arming{{Key: a, Grant: OAMessage}, {Key: b, Grant: OAEvent}, {Key: a, Grant: OAEvent}}, nil)
	for i, err := range errs {
		if err != nil {
			t.Fatalf("arming %d: %v", i, err)
		}
	}
	if w, _ := tr.Peek(ctx, a); !w.Open || w.Remaining != 8 {
		t.Fatalf("a after a message and a click = %+v, want 5+3", w)
	}
	if w, _ := tr.Peek(ctx, b); !w.Open || w.Remaining != 3 {
		t.Fatalf("b after a click = %+v", w)
	}
	if ttl := db.Client.PTTL(ctx, a).Val(); ttl < 48*time.Hour {
		t.Fatalf("a's TTL %s, want past the 48 h grant", ttl)
	}
	done, cancel := context.WithCancel(ctx)
	cancel()
	for _, err := range tr.ArmMany(done, []Arming{{Key: b, Grant: OAMessage}}, nil) {
		if err == nil {
			t.Fatal("arming with an ended context reported success")
		}
	}
}

// A 微信客服 message read again (sync_msg after a failed batch) must not
// give back the quota already used for it; a newer message does renew it,
// and its 48 h run from when the customer wrote.
func TestArmingFromTheActionKeepsUsedQuotaOnReread(t *testing.T) {
	_, clk, tr := trackerOnFakeClock(t)
	ctx := context.Background()
	key := tr.Key("wecom_kf", "shop", "kf/u")
	wrote := clk.Now().Add(-time.Hour)
	arm := func(at time.Time) {
		t.Helper()
		if err := tr.ArmMany(ctx, []Arming{{Key: key, Grant: KFMessage, At: at}}, nil)[0]; err != nil {
			t.Fatal(err)
		}
	}
	arm(wrote)
	for i := 0; i < 2; i++ {
		if w, err := tr.Take(ctx, key); err != nil || !w.Open {
			t.Fatalf("take %d: %+v %v", i+1, w, err)
		}
	}
	arm(wrote)
	w, _ := tr.Peek(ctx, key)
	if w.Remaining != 3 {
		t.Fatalf("after re-reading the same message: %d left, want 3 (nothing handed back)", w.Remaining)
	}
	if want := wrote.Add(48 * time.Hour); !w.Closes.Equal(want) {
		t.Fatalf("window closes %s, want 48 h after the message (%s)", w.Closes, want)
	}
	arm(clk.Now())
	if w, _ := tr.Peek(ctx, key); w.Remaining != 5 {
		t.Fatalf("after a newer message: %d left, want 5", w.Remaining)
	}
}

// WeChat retries a message it thinks unanswered (PROTOCOLS.md §1.2), and
// official-account grants run from when kefu sees the message. A retry
// seconds later must not renew the grant and hand back quota already used
// on the first delivery; the customer's next message must. A grant of
// another kind, or one armed without a source, is not confused with it.
func TestRetryOfTheSameActionKeepsUsedQuota(t *testing.T) {
	db, clk, tr := trackerOnFakeClock(t)
	ctx := context.Background()
	key := tr.Key("wechat_oa", "shop", "openid-1")
	arm := func(g Grant, source string) {
		t.Helper()
		if err := tr.ArmAsync(ctx, Arming{Key: key, Grant: g, Source: source})(); err != nil {
			t.Fatal(err)
		}
	}
	left := func() int {
		t.Helper()
		w, err := tr.Peek(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		return w.Remaining
	}
	arm(OAMessage, "24000000001")
	tr.Take(ctx, key)
	tr.Take(ctx, key)
	for _, after := range []time.Duration{5 * time.Second, 5 * time.Second} {
		clk.Advance(after)
		arm(OAMessage, "24000000001")
		if n := left(); n != 3 {
			t.Fatalf("after a retry: %d left, want 3 (nothing handed back)", n)
		}
	}
	arm(OAEvent, "24000000001") // same id, other kind: a grant of its own
	if n := left(); n != 6 {
		t.Fatalf("after a click: %d left, want 3 + 3", n)
	}
	clk.Advance(time.Second)
	arm(OAMessage, "24000000002")
	if n := left(); n != 8 {
		t.Fatalf("after the next message: %d left, want 5 + 3", n)
	}
	tr.Take(ctx, key) // from the click's grant, which ends first
	clk.Advance(2 * time.Minute)
	arm(OAMessage, "")
	tr.Take(ctx, key)
	clk.Advance(time.Second)
	arm(OAMessage, "24000000002")
	if n := left(); n != 5 {
		t.Fatalf("a grant armed without a source forgets the last one's: %d left, want 5", n)
	}
	if vals := db.Client.HGetAll(ctx, key).Val(); len(vals["message#"]) != 16 {
		t.Fatalf("source kept as %q, want a 16-digit digest", vals["message#"])
	}
}

// Message A, message B, then WeChat's retry of A (5 s after A): armed from
// the pushes' CreateTime, the retry's grant ends before B's and changes
// nothing, although its source differs from the grant's current one.
func TestRetryAfterANewerMessageKeepsUsedQuota(t *testing.T) {
	_, clk, tr := trackerOnFakeClock(t)
	ctx := context.Background()
	key := tr.Key("wechat_oa", "shop", "openid-2")
	a := clk.Now()
	arm := func(id string, at time.Time) {
		t.Helper()
		if err := tr.ArmAsync(ctx, Arming{Key: key, Grant: OAMessage, At: at, Source: id})(); err != nil {
			t.Fatal(err)
		}
	}
	arm("A", a)
	clk.Advance(time.Second)
	arm("B", clk.Now())
	for range 3 {
		tr.Take(ctx, key)
	}
	clk.Advance(4 * time.Second)
	arm("A", a)
	if w, _ := tr.Peek(ctx, key); w.Remaining != 2 {
		t.Fatalf("after A, B, three sends and A's retry: %d left, want 2", w.Remaining)
	}
}

// Grants armed by concurrent inbound messages are all recorded, sharing
// pipelines, while each caller goes on until it waits; a caller that gives
// up is told so.
func TestArmAsyncSharesTrips(t *testing.T) {
	tr, trips := trackerCountingTrips(t)
	ctx := context.Background()
	before := trips()
	const n = 400
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := tr.ArmAsync(ctx, Arming{Key: tr.Key("c", "a", fmt.Sprint(i)), Grant: OAMessage, Source: fmt.Sprint("msg", i)})(); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if got := trips() - before; got >= n/2 {
		t.Errorf("%d grants took %.0f round trips, want them to share pipelines", n, got)
	}
	for i := range n {
		if w, _ := tr.Peek(ctx, tr.Key("c", "a", fmt.Sprint(i))); !w.Open || w.Remaining != 5 {
			t.Fatalf("grant %d = %+v", i, w)
		}
	}
	done, cancel := context.WithCancel(ctx)
	cancel()
	if err := tr.ArmAsync(done, Arming{Key: tr.Key("c", "a", "late"), Grant: OAEvent})(); err == nil {
		t.Fatal("arming with an ended context reported success")
	}
}

// A 微信客服 page's grants and the commands sent along with them go in one
// round trip.
func TestArmManyAlongIsOneTrip(t *testing.T) {
	tr, trips := trackerCountingTrips(t)
	ctx := context.Background()
	page(t, tr) // loads the script and opens the connection
	before := trips()
	if n := page(t, tr); n != 2 {
		t.Fatalf("the command along answered %d, want 2 (its second run)", n)
	}
	if got := trips() - before; got != 1 {
		t.Fatalf("a page of 50 grants and a command along took %.0f round trips, want 1", got)
	}
	if w, _ := tr.Peek(ctx, tr.Key("wecom_kf", "shop", "kf/u7")); !w.Open || w.Remaining != 5 {
		t.Fatalf("a grant of the page = %+v", w)
	}
	if errs := tr.ArmMany(ctx, nil, func(redis.Pipeliner) { t.Error("sent along without grants") }); errs != nil {
		t.Fatalf("no grants: %v", errs)
	}
}

// After a Redis restart (NOSCRIPT) the grants go again and the commands
// along do not. SCRIPT FLUSH is server-wide, so this runs on a Redis of its
// own (the embedded one) and disturbs no other package's tests.
func TestArmManyAlongRunsAlongOnceAfterNoScript(t *testing.T) {
	client := redistest.Private(t).Client
	tr := New(client, nil, "kefu:win:", nil)
	page(t, tr)
	if err := client.ScriptFlush(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	if n := page(t, tr); n != 2 {
		t.Fatalf("the command along ran %d times over two pages, want 2", n)
	}
	if w, _ := tr.Peek(context.Background(), tr.Key("wecom_kf", "shop", "kf/u7")); !w.Open || w.Remaining != 5 {
		t.Fatalf("a grant armed again after NOSCRIPT = %+v", w)
	}
}

// page arms a 微信客服 page of 50 grants with one INCR along, and returns
// what the INCR answered.
func page(t *testing.T, tr *Tracker) int64 {
	t.Helper()
	ctx := context.Background()
	var arms []Arming
	for i := range 50 {
		arms = append(arms, Arming{Key: tr.Key("wecom_kf", "shop", fmt.Sprint("kf/u", i)), Grant: KFMessage})
	}
	var along *redis.IntCmd
	errs := tr.ArmMany(ctx, arms, func(pipe redis.Pipeliner) { along = pipe.Incr(ctx, "kefu:along") })
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	return along.Val()
}

// trackerCountingTrips returns a tracker on a test Redis and a function
// reading how many round trips its client has made so far.
func trackerCountingTrips(t *testing.T) (*Tracker, func() float64) {
	t.Helper()
	db := redistest.New(t)
	m := metrics.New()
	db.Client.AddHook(m.RedisHook())
	trips := func() float64 {
		var out dto.Metric
		_ = m.RedisRoundTrips.Write(&out)
		return out.GetCounter().GetValue()
	}
	return New(db.Client, nil, "kefu:win:", nil), trips
}

// trackerOnFakeClock returns a test Redis and a tracker on it whose clock
// moves only when the test advances it.
func trackerOnFakeClock(t *testing.T) (*redistest.DB, *clock.Fake, *Tracker) {
	db := redistest.New(t)
	clk := clock.NewFake(time.Unix(1_800_000_000, 0))
	return db, clk, New(db.Client, nil, "kefu:win:", clk.Now)
}
