// Package store opens kefu's Redis: a real one (standalone, Sentinel or
// Cluster) when redis.url is set, else an embedded in-memory miniredis.
package store

import (
	"context"
	"fmt"
	"net/url"
	"sync"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// Store is an open Redis with kefu's key schema.
type Store struct {
	Client redis.UniversalClient
	Keys   Keys
	// Embedded is true when the Redis is the in-process miniredis: nothing
	// persists and no other process can share it.
	Embedded bool

	mini     *miniredis.Miniredis
	stopTick chan struct{}
	once     sync.Once
}

// Open connects to the configured Redis, or starts the embedded one.
func Open(ctx context.Context, cfg Config, log *zap.Logger) (*Store, error) {
	keys := Keys{Prefix: cfg.Prefix}
	if cfg.URL == "" {
		return openEmbedded(log, keys)
	}
	client, err := newClient(cfg)
	if err != nil {
		return nil, err
	}
	pingCtx, cancel := context.WithTimeout(ctx, cfg.DialTimeout+time.Second)
	defer cancel()
	if err := client.Ping(pingCtx).Err(); err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("connecting to redis at %s: %w", redactURL(cfg.URL), err)
	}
	return &Store{Client: client, Keys: keys}, nil
}

func newClient(cfg Config) (redis.UniversalClient, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("parsing redis.url: not a URL")
	}
	mode := cfg.Mode
	if mode == "auto" {
		mode = "standalone"
		if u.Query().Has("master_name") {
			mode = "sentinel"
		}
	}
	var client redis.UniversalClient
	switch mode {
	case "sentinel":
		o, err := redis.ParseFailoverURL(cfg.URL)
		if err != nil {
			return nil, fmt.Errorf("parsing redis.url for sentinel: %w", err)
		}
		applyFailover(o, cfg)
		client = redis.NewFailoverClient(o)
	case "cluster":
		o, err := redis.ParseClusterURL(cfg.URL)
		if err != nil {
			return nil, fmt.Errorf("parsing redis.url for cluster: %w", err)
		}
		applyCluster(o, cfg)
		client = redis.NewClusterClient(o)
	default:
		o, err := redis.ParseURL(cfg.URL)
		if err != nil {
			return nil, fmt.Errorf("parsing redis.url: %w", err)
		}
		applySimple(o, cfg)
		client = redis.NewClient(o)
	}
	return client, nil
}

func applySimple(o *redis.Options, c Config) {
	if c.PoolSize > 0 {
		o.PoolSize = c.PoolSize
	}
	o.DialTimeout, o.ReadTimeout, o.WriteTimeout = c.DialTimeout, c.ReadTimeout, c.WriteTimeout
}

func applyFailover(o *redis.FailoverOptions, c Config) {
	if c.PoolSize > 0 {
		o.PoolSize = c.PoolSize
	}
	o.DialTimeout, o.ReadTimeout, o.WriteTimeout = c.DialTimeout, c.ReadTimeout, c.WriteTimeout
}

func applyCluster(o *redis.ClusterOptions, c Config) {
	if c.PoolSize > 0 {
		o.PoolSize = c.PoolSize
	}
	o.DialTimeout, o.ReadTimeout, o.WriteTimeout = c.DialTimeout, c.ReadTimeout, c.WriteTimeout
}

// openEmbedded starts miniredis. miniredis only expires keys when its clock
// is moved, so a ticker fast-forwards it in step with the wall clock: asynq's
// unique locks, leases and server heartbeats rely on TTLs expiring.
func openEmbedded(log *zap.Logger, keys Keys) (*Store, error) {
	m := miniredis.NewMiniRedis()
	if err := m.StartAddr("127.0.0.1:0"); err != nil {
		return nil, fmt.Errorf("starting embedded redis: %w", err)
	}
	log.Warn("redis.url is empty: using an EMBEDDED IN-MEMORY Redis. NOTHING PERSISTS across restarts and no other kefu process can share it. Set redis.url (or KEFU_REDIS_URL) for anything but a demo.",
		zap.String("addr", m.Addr()))
	s := &Store{
		Client:   redis.NewClient(&redis.Options{Addr: m.Addr(), PoolSize: 32}),
		Keys:     keys,
		Embedded: true,
		mini:     m,
		stopTick: make(chan struct{}),
	}
	go s.tick(m)
	return s, nil
}

func (s *Store) tick(m *miniredis.Miniredis) {
	const step = 250 * time.Millisecond
	t := time.NewTicker(step)
	defer t.Stop()
	last := time.Now()
	for {
		select {
		case <-s.stopTick:
			return
		case now := <-t.C:
			m.SetTime(now)
			m.FastForward(now.Sub(last))
			last = now
		}
	}
}

// Ping reports whether Redis answers.
func (s *Store) Ping(ctx context.Context) error { return s.Client.Ping(ctx).Err() }

// Close closes the client and stops the embedded Redis.
func (s *Store) Close() error {
	var err error
	s.once.Do(func() {
		err = s.Client.Close()
		if s.mini != nil {
			close(s.stopTick)
			s.mini.Close()
		}
	})
	return err
}

// redactURL drops the password from a Redis URL so it can be logged.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable url)"
	}
	return u.Redacted()
}
