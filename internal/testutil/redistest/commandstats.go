package redistest

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

// ServerTime starts measuring the Redis server's time in command name
// (INFO commandstats); report, called once the benchmark's loop stopped,
// reports it per call as redis-µs/op. The server counts every client, so
// run such a benchmark alone.
func ServerTime(b *testing.B, rdb redis.UniversalClient, name string) (report func()) {
	us0, n0 := commandStats(b, rdb, name)
	return func() {
		us1, n1 := commandStats(b, rdb, name)
		if n1 > n0 {
			b.ReportMetric((us1-us0)/(n1-n0), "redis-µs/op")
		}
	}
}

// commandStats reads the server's time (µs) in command name and its calls
// so far.
func commandStats(tb testing.TB, rdb redis.UniversalClient, name string) (usec, calls float64) {
	tb.Helper()
	info, err := rdb.Info(context.Background(), "commandstats").Result()
	if err != nil {
		tb.Fatal(err)
	}
	for _, line := range strings.Split(info, "\n") {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), "cmdstat_"+name+":")
		if !ok {
			continue
		}
		for _, kv := range strings.Split(rest, ",") {
			k, v, _ := strings.Cut(kv, "=")
			f, _ := strconv.ParseFloat(v, 64)
			switch k {
			case "usec":
				usec = f
			case "calls":
				calls = f
			}
		}
	}
	return usec, calls
}
