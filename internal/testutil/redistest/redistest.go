// Package redistest gives tests their own database on a real Redis.
//
// The server is KEFU_TEST_REDIS (default redis://127.0.0.1:6379). Each test
// leases one logical database (1..13) through a lock key in database 0, flushes
// it, and gives it back when the test ends, so test packages running in
// parallel — and several checkouts on one machine — never see each other's
// keys. When no Redis answers the test is skipped, unless KEFU_REQUIRE_REDIS=1
// (set by `make test`), where it fails instead.
package redistest

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

const (
	firstDB  = 1
	lastDB   = 13
	leaseTTL = 2 * time.Minute
)

// DB is a leased, empty Redis database.
type DB struct {
	Client redis.UniversalClient
	// URL addresses the same database, for subprocesses and asynq.
	URL string
	// Index is the logical database number.
	Index int
	// Server is the embedded Redis of a Private database (nil otherwise).
	Server *miniredis.Miniredis
}

// BaseURL returns the test Redis server's URL.
func BaseURL() string {
	if u := os.Getenv("KEFU_TEST_REDIS"); u != "" {
		return u
	}
	return "redis://127.0.0.1:6379"
}

// New leases an empty database for the test and returns a client to it.
func New(t testing.TB) *DB {
	t.Helper()
	base := BaseURL()
	opts, err := redis.ParseURL(base)
	if err != nil {
		t.Fatalf("KEFU_TEST_REDIS: %v", err)
	}
	opts.DB = 0
	ctl := redis.NewClient(opts)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := ctl.Ping(ctx).Err(); err != nil {
		_ = ctl.Close()
		if os.Getenv("KEFU_REQUIRE_REDIS") == "1" {
			t.Fatalf("no Redis at %s: %v", base, err)
		}
		t.Skipf("no Redis at %s (set KEFU_TEST_REDIS, or run `make test` which starts one): %v", base, err)
	}
	token := fmt.Sprintf("%s-%d-%d", t.Name(), os.Getpid(), time.Now().UnixNano())
	idx := lease(t, ctl, token)
	dbOpts := *opts
	dbOpts.DB = idx
	client := redis.NewClient(&dbOpts)
	if err := client.FlushDB(context.Background()).Err(); err != nil {
		t.Fatalf("flushing test db %d: %v", idx, err)
	}
	stop := make(chan struct{})
	go renew(ctl, idx, token, stop)
	t.Cleanup(func() {
		close(stop)
		_ = client.FlushDB(context.Background()).Err()
		_ = client.Close()
		release(ctl, idx, token)
		_ = ctl.Close()
	})
	return &DB{Client: client, URL: dbURL(base, idx), Index: idx}
}

func leaseKey(idx int) string { return "kefu-test:dblease:" + strconv.Itoa(idx) }

func lease(t testing.TB, ctl *redis.Client, token string) int {
	deadline := time.Now().Add(3 * time.Minute)
	for {
		for i := firstDB; i <= lastDB; i++ {
			ok, err := ctl.SetNX(context.Background(), leaseKey(i), token, leaseTTL).Result()
			if err != nil {
				t.Fatalf("leasing a test db: %v", err)
			}
			if ok {
				return i
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no free test database in %d..%d after 3 minutes", firstDB, lastDB)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

var renewScript = redis.NewScript(`if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0`)
var releaseScript = redis.NewScript(`if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`)

func renew(ctl *redis.Client, idx int, token string, stop chan struct{}) {
	t := time.NewTicker(leaseTTL / 4)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			renewScript.Run(context.Background(), ctl, []string{leaseKey(idx)}, token, leaseTTL.Milliseconds())
		}
	}
}

func release(ctl *redis.Client, idx int, token string) {
	releaseScript.Run(context.Background(), ctl, []string{leaseKey(idx)}, token)
}

func dbURL(base string, idx int) string {
	u, err := url.Parse(base)
	if err != nil {
		return base
	}
	u.Path = "/" + strconv.Itoa(idx)
	return u.String()
}
