package wxtoken

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/kefu-gateway/kefu/adapters/internal/apiclient"
)

// Config tunes a Store. Zero values take the defaults.
type Config struct {
	// RefreshAhead refreshes a token when less than this is left, so calls
	// never carry a token about to expire. Default 5 minutes; capped at half
	// a token's lifetime so short-lived tokens are not refreshed on every call.
	RefreshAhead time.Duration
	// LockTTL is how long the refresher's Redis lock lives; if the refresher
	// dies, another process takes over after it. It must exceed a fetch's
	// HTTP timeout. Default 15 s.
	LockTTL time.Duration
	// WaitTimeout bounds how long a caller without a usable token waits for
	// another process's refresh. Default LockTTL + 5 s.
	WaitTimeout time.Duration
	// PollInterval is how often a waiting caller re-reads Redis. Default 50 ms.
	PollInterval time.Duration
	// LocalTTL is how long a token read from Redis is reused in-process
	// without another round trip. Default 30 s; negative disables. A token
	// another process replaced is at worst refused once and re-read
	// (Invalidate drops the local copy).
	LocalTTL time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Validate rejects negative durations other than LocalTTL.
func (c Config) Validate() error {
	if c.RefreshAhead < 0 || c.LockTTL < 0 || c.WaitTimeout < 0 || c.PollInterval < 0 {
		return fmt.Errorf("%w: negative duration", ErrInvalidConfig)
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.RefreshAhead == 0 {
		c.RefreshAhead = 5 * time.Minute
	}
	if c.LockTTL == 0 {
		c.LockTTL = 15 * time.Second
	}
	if c.WaitTimeout == 0 {
		c.WaitTimeout = c.LockTTL + 5*time.Second
	}
	if c.PollInterval == 0 {
		c.PollInterval = 50 * time.Millisecond
	}
	if c.LocalTTL == 0 {
		c.LocalTTL = 30 * time.Second
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Errors of Store.
var (
	ErrInvalidConfig = errors.New("invalid token store configuration")
	// ErrRefreshTimeout means no usable token appeared within WaitTimeout
	// while another process held the refresh lock.
	ErrRefreshTimeout = errors.New("timed out waiting for another process to refresh the access token")
)

// Store is one credential's access token, shared through Redis. It is safe
// for concurrent use; create one per credential and process.
type Store struct {
	rdb     redis.UniversalClient
	key     string
	lockKey string
	fetcher Fetcher
	cfg     Config
	owner   string

	// refreshing admits one goroutine of this process to the Redis refresh
	// path at a time; the others wait for it instead of polling Redis.
	refreshing chan struct{}

	mu    sync.Mutex
	local cached
}

// cached is the token as stored: value, expiry, issue time, and whether it
// was invalidated (rejected holds the refused value).
type cached struct {
	value    string
	expires  time.Time
	issued   time.Time
	rejected string
	keepTill time.Time // local copies only
}

var _ apiclient.TokenSource = (*Store)(nil)

// NewStore returns the Store of the token under key (see WeChatKey, WeComKey,
// DingTalkKey).
func NewStore(rdb redis.UniversalClient, key string, fetcher Fetcher, cfg Config) (*Store, error) {
	if rdb == nil || key == "" || fetcher == nil {
		return nil, fmt.Errorf("%w: redis client, key and fetcher are required", ErrInvalidConfig)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	var id [12]byte
	if _, err := rand.Read(id[:]); err != nil {
		return nil, fmt.Errorf("creating token store: %w", err)
	}
	return &Store{
		rdb: rdb, key: key, lockKey: key + ":lock", fetcher: fetcher, cfg: cfg.withDefaults(),
		owner: hex.EncodeToString(id[:]), refreshing: make(chan struct{}, 1),
	}, nil
}

// fresh reports whether t can be used without a refresh at now.
func (s *Store) fresh(t cached, now time.Time) bool {
	if t.value == "" || t.rejected != "" {
		return false
	}
	ahead := s.cfg.RefreshAhead
	if life := t.expires.Sub(t.issued); ahead > life/2 {
		ahead = life / 2
	}
	return now.Before(t.expires.Add(-ahead))
}

// usable reports whether t is still accepted by the platform at now.
func usable(t cached, now time.Time) bool {
	return t.value != "" && t.rejected == "" && now.Before(t.expires)
}

// Token returns a valid access token, refreshing it if needed.
func (s *Store) Token(ctx context.Context) (string, error) {
	now := s.cfg.Now()
	s.mu.Lock()
	local := s.local
	s.mu.Unlock()
	if now.Before(local.keepTill) && s.fresh(local, now) {
		return local.value, nil
	}
	cur, err := s.read(ctx)
	if err != nil {
		return "", err
	}
	if s.fresh(cur, now) {
		s.remember(cur, now)
		return cur.value, nil
	}
	return s.refresh(ctx, cur)
}

// refresh gets a new token, or waits for the process that is getting one. A
// caller holding a still-usable token is never kept waiting.
func (s *Store) refresh(ctx context.Context, cur cached) (string, error) {
	select {
	case s.refreshing <- struct{}{}:
		defer func() { <-s.refreshing }()
	default:
		if usable(cur, s.cfg.Now()) {
			return cur.value, nil // another goroutine of this process is refreshing
		}
		select {
		case s.refreshing <- struct{}{}:
			defer func() { <-s.refreshing }()
		case <-ctx.Done():
			return "", fmt.Errorf("waiting for access token refresh: %w", ctx.Err())
		}
	}

	// The wait is measured in wall time, whatever clock tokens are dated by.
	timeout := time.NewTimer(s.cfg.WaitTimeout)
	defer timeout.Stop()
	for {
		// Someone may have refreshed while we waited.
		cur, err := s.read(ctx)
		if err != nil {
			return "", err
		}
		now := s.cfg.Now()
		if s.fresh(cur, now) {
			s.remember(cur, now)
			return cur.value, nil
		}
		locked, err := s.rdb.SetNX(ctx, s.lockKey, s.owner, s.cfg.LockTTL).Result()
		if err != nil {
			return "", fmt.Errorf("locking access token refresh: %w", err)
		}
		if locked {
			return s.fetchAndStore(ctx, cur)
		}
		if usable(cur, now) {
			return cur.value, nil // another process is refreshing ahead of expiry
		}
		select {
		case <-time.After(s.cfg.PollInterval):
		case <-timeout.C:
			return "", fmt.Errorf("getting access token: %w", ErrRefreshTimeout)
		case <-ctx.Done():
			return "", fmt.Errorf("waiting for access token refresh: %w", ctx.Err())
		}
	}
}

// fetchAndStore runs under the Redis lock: fetch, store, unlock.
func (s *Store) fetchAndStore(ctx context.Context, cur cached) (string, error) {
	defer s.unlock(ctx)
	t, err := s.fetcher.Fetch(ctx, cur.rejected)
	if err == nil && t.Value == "" {
		err = ErrEmptyToken
	}
	if t.ExpiresIn <= 0 {
		t.ExpiresIn = defaultLifetime
	}
	if err != nil {
		if usable(cur, s.cfg.Now()) {
			// A failed refresh ahead of expiry must not fail the call; the
			// next call past RefreshAhead tries again.
			return cur.value, nil
		}
		return "", fmt.Errorf("refreshing access token: %w", err)
	}
	now := s.cfg.Now()
	next := cached{value: t.Value, issued: now, expires: now.Add(t.ExpiresIn)}
	pipe := s.rdb.TxPipeline()
	pipe.HSet(ctx, s.key, "token", next.value, "exp", next.expires.UnixMilli(), "iat", next.issued.UnixMilli())
	pipe.HDel(ctx, s.key, "rejected")
	pipe.PExpire(ctx, s.key, t.ExpiresIn) // relative: immune to clock differences with Redis
	if _, err := pipe.Exec(ctx); err != nil {
		return "", fmt.Errorf("storing access token: %w", err)
	}
	s.remember(next, now)
	return next.value, nil
}

// unlockScript deletes the lock only if this store still owns it.
var unlockScript = redis.NewScript(`if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`)

func (s *Store) unlock(ctx context.Context) {
	// Best effort: an unreleased lock expires after LockTTL.
	_ = unlockScript.Run(context.WithoutCancel(ctx), s.rdb, []string{s.lockKey}, s.owner).Err()
}

// invalidateScript marks the stored token rejected only if it is still the
// refused one, so reports of an already-replaced token change nothing.
var invalidateScript = redis.NewScript(`
if redis.call('HGET', KEYS[1], 'token') == ARGV[1] then
  redis.call('HSET', KEYS[1], 'rejected', ARGV[1])
  return 1
end
return 0`)

// Invalidate reports that the platform refused token. If it is still the
// stored token, the next Token call refreshes it; otherwise nothing changes
// but the local copy is dropped, so the replacement is read.
func (s *Store) Invalidate(ctx context.Context, token string) error {
	s.mu.Lock()
	s.local = cached{}
	s.mu.Unlock()
	if token == "" {
		return nil
	}
	if err := invalidateScript.Run(ctx, s.rdb, []string{s.key}, token).Err(); err != nil {
		return fmt.Errorf("invalidating access token: %w", err)
	}
	return nil
}

// read loads the stored token.
func (s *Store) read(ctx context.Context) (cached, error) {
	vals, err := s.rdb.HMGet(ctx, s.key, "token", "exp", "iat", "rejected").Result()
	if err != nil {
		return cached{}, fmt.Errorf("reading access token: %w", err)
	}
	str := func(i int) string { v, _ := vals[i].(string); return v }
	ms := func(i int) time.Time {
		n, err := strconv.ParseInt(str(i), 10, 64)
		if err != nil {
			return time.Time{}
		}
		return time.UnixMilli(n)
	}
	return cached{value: str(0), expires: ms(1), issued: ms(2), rejected: str(3)}, nil
}

// remember keeps a local copy for LocalTTL.
func (s *Store) remember(t cached, now time.Time) {
	if s.cfg.LocalTTL < 0 {
		return
	}
	t.keepTill = now.Add(s.cfg.LocalTTL)
	s.mu.Lock()
	s.local = t
	s.mu.Unlock()
}
