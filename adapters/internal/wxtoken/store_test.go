package wxtoken_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/kefu-gateway/kefu/adapters/internal/apiclient"
	"github.com/kefu-gateway/kefu/adapters/internal/fakeplatform"
	"github.com/kefu-gateway/kefu/adapters/internal/wxtoken"
)

const (
	appID  = "wxfake0000000001"
	secret = "wechat-secret-not-for-logs"
)

// clock is a settable clock shared by a test's stores.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Unix(1700000000, 0)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func bareClient(t *testing.T, p apiclient.Platform, base string) *apiclient.Client {
	t.Helper()
	c, err := apiclient.New(p, apiclient.Config{APIBase: base, Timeout: 5 * time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// process is one kefu process's view of an account: its own Redis client and
// token store.
func process(t *testing.T, conn func() *redis.Client, key string, fetcher wxtoken.Fetcher, cfg wxtoken.Config) *wxtoken.Store {
	t.Helper()
	s, err := wxtoken.NewStore(conn(), key, fetcher, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func wechatSetup(t *testing.T) (*fakeplatform.WeChat, wxtoken.Fetcher, string, func() *redis.Client) {
	fake := fakeplatform.NewWeChat(t)
	fake.AddApp(appID, secret)
	fetcher := wxtoken.WeChatCredential(bareClient(t, apiclient.WeChat, fake.URL()), appID, secret)
	return fake, fetcher, wxtoken.WeChatKey(wxtoken.DefaultPrefix, appID, false), testRedis(t)
}

func TestTokenIsFetchedOnceAndShared(t *testing.T) {
	fake, fetcher, key, conn := wechatSetup(t)
	ctx := context.Background()
	a := process(t, conn, key, fetcher, wxtoken.Config{})
	b := process(t, conn, key, fetcher, wxtoken.Config{LocalTTL: -1})
	ta, err := a.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tb, err := b.Token(ctx)
	if err != nil || tb != ta {
		t.Fatalf("second process got %q, %v; want the shared %q", tb, err, ta)
	}
	for i := 0; i < 5; i++ {
		if tok, _ := a.Token(ctx); tok != ta {
			t.Fatal("token changed without a refresh")
		}
	}
	if n := fake.TokenCalls(appID); n != 1 {
		t.Fatalf("TokenCalls = %d, want 1", n)
	}
}

// TestTwoProcessesRaceForOneRefresh starts two independent stores (two
// processes) with many concurrent callers on a cold cache, with a slow token
// endpoint to widen the race: exactly one token is fetched and everyone gets it.
func TestTwoProcessesRaceForOneRefresh(t *testing.T) {
	fake, fetcher, key, conn := wechatSetup(t)
	fake.Fail("/cgi-bin/token", fakeplatform.Fault{Delay: 300 * time.Millisecond})
	stores := []*wxtoken.Store{
		process(t, conn, key, fetcher, wxtoken.Config{PollInterval: 10 * time.Millisecond}),
		process(t, conn, key, fetcher, wxtoken.Config{PollInterval: 10 * time.Millisecond}),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	tokens := make(chan string, 40)
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func(s *wxtoken.Store) {
			defer wg.Done()
			tok, err := s.Token(ctx)
			if err != nil {
				t.Error(err)
			}
			tokens <- tok
		}(stores[i%2])
	}
	wg.Wait()
	close(tokens)
	first := ""
	for tok := range tokens {
		if first == "" {
			first = tok
		}
		if tok != first || tok == "" {
			t.Fatalf("callers got different tokens: %q and %q", first, tok)
		}
	}
	if n := fake.TokenCalls(appID); n != 1 {
		t.Fatalf("TokenCalls = %d, want exactly 1 refresh", n)
	}
}

func TestRefreshAheadOfExpiry(t *testing.T) {
	fake, fetcher, key, conn := wechatSetup(t)
	clk := newClock()
	cfg := wxtoken.Config{RefreshAhead: 5 * time.Minute, Now: clk.Now, PollInterval: 10 * time.Millisecond}
	a, b := process(t, conn, key, fetcher, cfg), process(t, conn, key, fetcher, cfg)
	ctx := context.Background()
	old, err := a.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	clk.Add(7200*time.Second - 6*time.Minute) // 6 minutes left: still fresh
	if tok, _ := b.Token(ctx); tok != old || fake.TokenCalls(appID) != 1 {
		t.Fatalf("refreshed too early: %q, calls %d", tok, fake.TokenCalls(appID))
	}

	clk.Add(2 * time.Minute) // 4 minutes left: refresh ahead
	fake.Fail("/cgi-bin/token", fakeplatform.Fault{Delay: 300 * time.Millisecond})
	done := make(chan string)
	go func() {
		tok, err := a.Token(ctx)
		if err != nil {
			t.Error(err)
		}
		done <- tok
	}()
	// While a refreshes, b is not kept waiting: it still has a usable token.
	time.Sleep(100 * time.Millisecond)
	start := time.Now()
	if tok, err := b.Token(ctx); err != nil || tok != old || time.Since(start) > 150*time.Millisecond {
		t.Fatalf("non-refresher got %q, %v after %s; want the old token at once", tok, err, time.Since(start))
	}
	fresh := <-done
	if fresh == old || fake.TokenCalls(appID) != 2 {
		t.Fatalf("refresh gave %q (old %q), calls %d", fresh, old, fake.TokenCalls(appID))
	}
	if tok, _ := b.Token(ctx); tok != fresh {
		t.Fatalf("other process reads %q after the refresh, want %q", tok, fresh)
	}
}

func TestShortLivedTokensAreNotRefetchedOnEveryCall(t *testing.T) {
	fake, fetcher, key, conn := wechatSetup(t)
	fake.SetTokenTTL(2 * time.Minute) // shorter than RefreshAhead
	clk := newClock()
	s := process(t, conn, key, fetcher, wxtoken.Config{Now: clk.Now, LocalTTL: -1})
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		if _, err := s.Token(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if n := fake.TokenCalls(appID); n != 1 {
		t.Fatalf("TokenCalls = %d, want 1", n)
	}
	clk.Add(61 * time.Second) // past half the lifetime
	if _, err := s.Token(ctx); err != nil || fake.TokenCalls(appID) != 2 {
		t.Fatalf("TokenCalls = %d after half the lifetime, want 2", fake.TokenCalls(appID))
	}
}

func TestInvalidateIsCompareAndSet(t *testing.T) {
	fake, fetcher, key, conn := wechatSetup(t)
	ctx := context.Background()
	a := process(t, conn, key, fetcher, wxtoken.Config{})
	b := process(t, conn, key, fetcher, wxtoken.Config{})
	t1, _ := a.Token(ctx)
	if t1b, _ := b.Token(ctx); t1b != t1 {
		t.Fatal("not shared")
	}
	// Both processes see the token refused: one refresh in total.
	if err := a.Invalidate(ctx, t1); err != nil {
		t.Fatal(err)
	}
	t2, err := a.Token(ctx)
	if err != nil || t2 == t1 {
		t.Fatalf("after Invalidate got %q, %v", t2, err)
	}
	if err := b.Invalidate(ctx, t1); err != nil { // late report of the old token
		t.Fatal(err)
	}
	if tb, _ := b.Token(ctx); tb != t2 {
		t.Fatalf("second process got %q, want %q", tb, t2)
	}
	if n := fake.TokenCalls(appID); n != 2 {
		t.Fatalf("TokenCalls = %d, want 2", n)
	}
}

// TestClientRetriesThroughSharedStore runs the whole path: two processes'
// API clients hold the same token, the platform revokes it, each call is
// refused once, and only one new token is fetched.
func TestClientRetriesThroughSharedStore(t *testing.T) {
	fake, fetcher, key, conn := wechatSetup(t)
	ctx := context.Background()
	api := func() *apiclient.WeChatAPI {
		s := process(t, conn, key, fetcher, wxtoken.Config{})
		c, err := apiclient.New(apiclient.WeChat, apiclient.Config{APIBase: fake.URL()}, s)
		if err != nil {
			t.Fatal(err)
		}
		return apiclient.NewWeChatAPI(c)
	}
	a, b := api(), api()
	for _, p := range []*apiclient.WeChatAPI{a, b} {
		if err := p.SendCustom(ctx, apiclient.CustomText("o1", "warm up")); err != nil {
			t.Fatal(err)
		}
	}
	fake.RevokeTokens()
	for _, p := range []*apiclient.WeChatAPI{a, b} {
		if err := p.SendCustom(ctx, apiclient.CustomText("o1", "after revocation")); err != nil {
			t.Fatalf("send after revocation = %v", err)
		}
	}
	if n := fake.TokenCalls(appID); n != 2 {
		t.Fatalf("TokenCalls = %d, want 2 (one initial, one refresh)", n)
	}
}

func TestRefresherThatDiesIsReplaced(t *testing.T) {
	fake, fetcher, key, conn := wechatSetup(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// A crashed process left the lock behind.
	if err := conn().Set(ctx, key+":lock", "dead-process", 300*time.Millisecond).Err(); err != nil {
		t.Fatal(err)
	}
	s := process(t, conn, key, fetcher, wxtoken.Config{LockTTL: 300 * time.Millisecond, PollInterval: 20 * time.Millisecond})
	start := time.Now()
	tok, err := s.Token(ctx)
	if err != nil || tok == "" {
		t.Fatalf("Token = %q, %v", tok, err)
	}
	if waited := time.Since(start); waited < 200*time.Millisecond {
		t.Fatalf("did not wait for the stale lock (%s)", waited)
	}
	if fake.TokenCalls(appID) != 1 {
		t.Fatalf("TokenCalls = %d", fake.TokenCalls(appID))
	}
}

func TestWaitingIsBounded(t *testing.T) {
	_, fetcher, key, conn := wechatSetup(t)
	rdb := conn()
	if err := rdb.Set(context.Background(), key+":lock", "busy", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	s := process(t, conn, key, fetcher, wxtoken.Config{LockTTL: time.Minute, WaitTimeout: 200 * time.Millisecond, PollInterval: 20 * time.Millisecond})
	if _, err := s.Token(context.Background()); !errors.Is(err, wxtoken.ErrRefreshTimeout) {
		t.Fatalf("Token = %v, want ErrRefreshTimeout", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	s2 := process(t, conn, key, fetcher, wxtoken.Config{LockTTL: time.Minute, PollInterval: 20 * time.Millisecond})
	if _, err := s2.Token(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Token = %v, want the context's deadline", err)
	}
}

func TestFetchErrorsAreReportedWithoutSecrets(t *testing.T) {
	fake := fakeplatform.NewWeChat(t)
	fake.AddApp(appID, "the-real-secret")
	fetcher := wxtoken.WeChatCredential(bareClient(t, apiclient.WeChat, fake.URL()), appID, secret)
	key := wxtoken.WeChatKey(wxtoken.DefaultPrefix, appID, false)
	s := process(t, testRedis(t), key, fetcher, wxtoken.Config{})
	_, err := s.Token(context.Background())
	if err == nil || !apiclient.IsTokenInvalid(err) || strings.Contains(err.Error(), secret) {
		t.Fatalf("Token with a wrong secret = %v", err)
	}
	// The lock was released: the next call tries again at once.
	fake.AddApp(appID, secret)
	if _, err := s.Token(context.Background()); err != nil {
		t.Fatalf("Token after fixing the secret = %v", err)
	}
}

func TestFailedRefreshAheadKeepsTheValidToken(t *testing.T) {
	fake, fetcher, key, conn := wechatSetup(t)
	clk := newClock()
	s := process(t, conn, key, fetcher, wxtoken.Config{Now: clk.Now})
	ctx := context.Background()
	old, _ := s.Token(ctx)
	clk.Add(7200*time.Second - time.Minute)
	fake.Fail("/cgi-bin/token", fakeplatform.Fault{ErrCode: -1, ErrMsg: "system busy"})
	if tok, err := s.Token(ctx); err != nil || tok != old {
		t.Fatalf("Token during a failed early refresh = %q, %v; want the old token", tok, err)
	}
}

func TestStableTokenForcesOnlyWhenRejectedTokenComesBack(t *testing.T) {
	fake := fakeplatform.NewWeChat(t)
	fake.AddApp(appID, secret)
	fetcher := wxtoken.WeChatStable(bareClient(t, apiclient.WeChat, fake.URL()), appID, secret)
	s := process(t, testRedis(t), wxtoken.WeChatKey(wxtoken.DefaultPrefix, appID, true), fetcher, wxtoken.Config{})
	ctx := context.Background()
	t1, err := s.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The platform refuses t1 although stable_token would hand it out again:
	// the fetcher must force a new one.
	if err := s.Invalidate(ctx, t1); err != nil {
		t.Fatal(err)
	}
	t2, err := s.Token(ctx)
	if err != nil || t2 == t1 {
		t.Fatalf("after rejection got %q, %v", t2, err)
	}
	var forced []bool
	for _, c := range fake.Calls("/cgi-bin/stable_token") {
		f, _ := c.JSON["force_refresh"].(bool)
		forced = append(forced, f)
	}
	if len(forced) != 3 || forced[0] || forced[1] || !forced[2] {
		t.Fatalf("force_refresh flags = %v, want [false false true]", forced)
	}
}

func TestWeComAndDingTalkFetchers(t *testing.T) {
	ctx := context.Background()
	prefix := wxtoken.DefaultPrefix
	conn := testRedis(t)

	wc := fakeplatform.NewWeCom(t)
	wc.AddSecret("wwcorp", "app-secret")
	wc.AddSecret("wwcorp", "kf-secret")
	client := bareClient(t, apiclient.WeCom, wc.URL())
	app := process(t, conn, wxtoken.WeComKey(prefix, "wwcorp", "1000002"), wxtoken.WeCom(client, "wwcorp", "app-secret"), wxtoken.Config{})
	kf := process(t, conn, wxtoken.WeComKey(prefix, "wwcorp", "kf"), wxtoken.WeCom(client, "wwcorp", "kf-secret"), wxtoken.Config{})
	ta, err := app.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tk, err := kf.Token(ctx)
	if err != nil || tk == ta {
		t.Fatalf("kf token %q, %v; app token %q: the kf secret needs its own token", tk, err, ta)
	}
	if wc.TokenCalls(fakeplatform.WeComApp("wwcorp", "kf-secret")) != 1 || wc.TokenCalls(fakeplatform.WeComApp("wwcorp", "app-secret")) != 1 {
		t.Fatal("each secret should fetch exactly one token")
	}

	dt := fakeplatform.NewDingTalk(t)
	dt.AddApp("dingkey", "dingsecret")
	ds := process(t, conn, wxtoken.DingTalkKey(prefix, "dingkey"), wxtoken.DingTalk(bareClient(t, apiclient.DingTalk, dt.URL()), "dingkey", "dingsecret"), wxtoken.Config{})
	for i := 0; i < 3; i++ {
		if tok, err := ds.Token(ctx); err != nil || tok == "" {
			t.Fatalf("DingTalk Token = %q, %v", tok, err)
		}
	}
	if dt.TokenCalls("dingkey") != 1 {
		t.Fatalf("DingTalk TokenCalls = %d", dt.TokenCalls("dingkey"))
	}
}

func TestNewStoreValidates(t *testing.T) {
	conn := testRedis(t)
	rdb := conn()
	f := wxtoken.FetcherFunc(func(context.Context, string) (wxtoken.Token, error) { return wxtoken.Token{}, nil })
	if _, err := wxtoken.NewStore(nil, "k", f, wxtoken.Config{}); !errors.Is(err, wxtoken.ErrInvalidConfig) {
		t.Fatalf("nil redis = %v", err)
	}
	if _, err := wxtoken.NewStore(rdb, "", f, wxtoken.Config{}); !errors.Is(err, wxtoken.ErrInvalidConfig) {
		t.Fatalf("empty key = %v", err)
	}
	if _, err := wxtoken.NewStore(rdb, "k", f, wxtoken.Config{LockTTL: -1}); !errors.Is(err, wxtoken.ErrInvalidConfig) {
		t.Fatalf("negative duration = %v", err)
	}
	empty := process(t, conn, wxtoken.DefaultPrefix+"empty", f, wxtoken.Config{})
	if _, err := empty.Token(context.Background()); !errors.Is(err, wxtoken.ErrEmptyToken) {
		t.Fatalf("empty token = %v", err)
	}
}
