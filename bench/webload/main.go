// Command webload drives kefu's web messages API at a fixed concurrency and
// reports throughput, latency percentiles and the Redis work per message.
//
// By default it starts a kefu in-process (HTTP on loopback, workers off so
// only message handling touches Redis) against the Redis given by -redis,
// answering from the demo flows:
//
//	go run ./bench/webload -redis redis://127.0.0.1:6379/14 -c 32 -d 15s
//
// With -url it drives an already running kefu instead (site -site).
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	_ "github.com/kefu-gateway/kefu/adapters/all"
	"github.com/kefu-gateway/kefu/bench/internal/benchkefu"
	"github.com/kefu-gateway/kefu/internal/app"
)

func main() {
	redisURL := flag.String("redis", "redis://127.0.0.1:6379/15", "Redis for the in-process kefu (it uses its own key prefix and deletes its keys afterwards)")
	target := flag.String("url", "", "drive this running kefu instead of starting one")
	site := flag.String("site", "bench", "web site id")
	conc := flag.Int("c", 32, "concurrent visitors")
	dur := flag.Duration("d", 15*time.Second, "measurement duration")
	warm := flag.Duration("warmup", 2*time.Second, "warm-up before measuring")
	text := flag.String("text", "你好", "message each visitor sends (answered by a keyword flow)")
	flag.Parse()
	if err := run(*redisURL, *target, *site, *conc, *dur, *warm, *text); err != nil {
		fmt.Fprintln(os.Stderr, "webload:", err)
		os.Exit(1)
	}
}

func run(redisURL, target, site string, conc int, dur, warm time.Duration, text string) error {
	ctx := context.Background()
	opts, err := redis.ParseURL(redisURL)
	if err != nil {
		return fmt.Errorf("parsing -redis: %w", err)
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	var kefu *app.App
	if target == "" {
		prefix := fmt.Sprintf("kefubench%d:", os.Getpid())
		kefu, target, err = startKefu(ctx, redisURL, site, prefix)
		if err != nil {
			return err
		}
		defer benchkefu.DeletePrefix(ctx, rdb, prefix)
		defer kefu.Shutdown(ctx)
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conc * 2}}
	tokens := make([]string, conc)
	for i := range tokens {
		var s struct{ Token string }
		if err := call(client, "POST", target+"/api/web/"+site+"/sessions", "", []byte(`{}`), &s); err != nil {
			return fmt.Errorf("creating session: %w", err)
		}
		tokens[i] = s.Token
	}
	body, _ := json.Marshal(map[string]string{"type": "text", "text": text})

	var measuring atomic.Bool
	var errs, bad atomic.Int64
	lat := make([][]time.Duration, conc)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < conc; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				var out struct{ Replies []json.RawMessage }
				t0 := time.Now()
				err := call(client, "POST", target+"/api/web/"+site+"/messages", tokens[i], body, &out)
				d := time.Since(t0)
				if !measuring.Load() {
					continue
				}
				switch {
				case err != nil:
					errs.Add(1)
				case len(out.Replies) == 0:
					bad.Add(1)
				default:
					lat[i] = append(lat[i], d)
				}
			}
		}()
	}
	time.Sleep(warm)
	cmdsBefore, err := commandCalls(ctx, rdb)
	if err != nil {
		return err
	}
	rtBefore := benchkefu.RoundTrips(kefu)
	measuring.Store(true)
	start := time.Now()
	time.Sleep(dur)
	measuring.Store(false)
	elapsed := time.Since(start)
	rtAfter := benchkefu.RoundTrips(kefu)
	cmdsAfter, err := commandCalls(ctx, rdb)
	if err != nil {
		return err
	}
	close(stop)
	wg.Wait()

	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	n := len(all)
	if n == 0 {
		return fmt.Errorf("no successful messages (%d errors, %d without replies)", errs.Load(), bad.Load())
	}
	fmt.Printf("kefu web messages API load (%s, %d CPUs)\n", runtime.Version(), runtime.NumCPU())
	fmt.Printf("  concurrency        %d visitors, %s measured after %s warm-up\n", conc, dur, warm)
	fmt.Printf("  handled            %d messages answered (%d errors, %d without a reply)\n", n, errs.Load(), bad.Load())
	fmt.Printf("  throughput         %.0f messages/s\n", float64(n)/elapsed.Seconds())
	fmt.Printf("  latency            p50 %s   p90 %s   p99 %s   max %s\n", benchkefu.Percentile(all, 50), benchkefu.Percentile(all, 90), benchkefu.Percentile(all, 99), all[n-1].Round(time.Microsecond))
	fmt.Printf("  redis commands     %.2f per message (INFO commandstats, commands inside scripts included)\n", float64(cmdsAfter-cmdsBefore)/float64(n))
	if kefu != nil {
		fmt.Printf("  redis round trips  %.2f per message (pipelines and scripts count once)\n", (rtAfter-rtBefore)/float64(n))
	}
	return nil
}

func call(c *http.Client, method, url, token string, body []byte, out any) error {
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := c.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return err
	}
	if res.StatusCode != 200 {
		return fmt.Errorf("%s %s: %d %s", method, url, res.StatusCode, b)
	}
	return json.Unmarshal(b, out)
}

// commandCalls sums calls over every command in INFO commandstats.
func commandCalls(ctx context.Context, rdb *redis.Client) (int64, error) {
	info, err := rdb.Info(ctx, "commandstats").Result()
	if err != nil {
		return 0, fmt.Errorf("reading INFO commandstats: %w", err)
	}
	var total int64
	for _, line := range strings.Split(info, "\n") {
		if !strings.HasPrefix(line, "cmdstat_") || strings.HasPrefix(line, "cmdstat_info:") {
			continue
		}
		_, fields, _ := strings.Cut(line, ":")
		for _, f := range strings.Split(fields, ",") {
			if v, ok := strings.CutPrefix(f, "calls="); ok {
				n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
				total += n
			}
		}
	}
	return total, nil
}

// startKefu runs kefu in-process with one web site, its rate limit out of
// the way.
func startKefu(ctx context.Context, redisURL, site, prefix string) (*app.App, string, error) {
	return benchkefu.Start(ctx, redisURL, prefix, fmt.Sprintf(`  web:
    - id: %s
      rate_limit: { messages: 1000000, per: 1s }
`, site))
}
