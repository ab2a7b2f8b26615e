// Package benchkefu is what the load tools under bench/ share: kefu run
// in-process on a real Redis with the shipped demo flows and knowledge
// base, and the figures they read off it.
package benchkefu

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/kefu-gateway/kefu/internal/app"
	dto "github.com/prometheus/client_model/go"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// Start runs kefu with the HTTP server only (no workers) on a loopback
// port, on the Redis at redisURL under its own key prefix, with channels
// as the body of the config's `channels:` block (indented two spaces). It
// returns the app and its base URL.
func Start(ctx context.Context, redisURL, prefix, channels string) (*app.App, string, error) {
	root := repoRoot()
	cfgText := fmt.Sprintf("log: { level: warn }\nredis: { prefix: %q }\nflows: { dir: %q }\nknowledge: { dir: %q }\nchannels:\n%s",
		prefix, filepath.Join(root, "configs", "flows"), filepath.Join(root, "configs", "knowledge"), channels)
	env := func(k string) (string, bool) {
		if k == "KEFU_REDIS_URL" {
			return redisURL, true
		}
		return "", false
	}
	cfg, err := app.ParseConfig("bench.yaml", []byte(cfgText), env)
	if err != nil {
		return nil, "", err
	}
	a, err := app.New(ctx, cfg, zap.NewNop(), app.Options{HTTP: true, Workers: false})
	if err != nil {
		return nil, "", err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	if err := a.Start(ln); err != nil {
		return nil, "", err
	}
	return a, "http://" + ln.Addr().String(), nil
}

// repoRoot is the folder holding go.mod, found from where the tool runs
// (the repository for `go run ./bench/...`, the package for its tests).
func repoRoot() string {
	dir, _ := os.Getwd()
	for d := dir; d != "/"; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
	}
	return dir
}

// DeletePrefix removes the keys the bench's kefu wrote.
func DeletePrefix(ctx context.Context, rdb *redis.Client, prefix string) {
	iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	var batch []string
	for iter.Next(ctx) {
		if batch = append(batch, iter.Val()); len(batch) == 1000 {
			rdb.Unlink(ctx, batch...)
			batch = batch[:0]
		}
	}
	if len(batch) > 0 {
		rdb.Unlink(ctx, batch...)
	}
}

// RoundTrips reads kefu_redis_roundtrips_total (0 without an app).
func RoundTrips(a *app.App) float64 {
	if a == nil {
		return 0
	}
	m := &dto.Metric{}
	if err := a.Metrics.RedisRoundTrips.Write(m); err != nil {
		return 0
	}
	return m.GetCounter().GetValue()
}

// Percentile is the p-th percentile of sorted latencies (0 for none),
// rounded to the microsecond.
func Percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := (len(sorted)*p + 99) / 100
	if i > 0 {
		i--
	}
	return sorted[i].Round(time.Microsecond)
}
