// Command oabench measures kefu's official-account callback against the
// floor of the work, side by side in one run:
//
//   - kefu: plaintext text pushes, signature and replay checks, dedup and
//     conversation state in Redis, a keyword flow's answer as a passive
//     reply (the shipped demo flows answer 你好), the reply window recorded;
//   - bare: a stateless silenceper/wechat official-account echo server
//     behind fiber, which only checks the signature, parses and answers.
//
// Both get the same signed pushes from the same number of customers over
// loopback. kefu runs in-process with its own Redis key prefix, which it
// deletes afterwards (never FLUSHDB):
//
//	go run ./bench/oabench -redis redis://127.0.0.1:6379/15 -c 32 -d 10s
//
// The target is kefu's throughput at 0.5× the bare server's or better, with
// no errors.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	_ "github.com/kefu-gateway/kefu/adapters/all"
	"github.com/kefu-gateway/kefu/bench/internal/benchkefu"
	"github.com/kefu-gateway/kefu/internal/app"
	"github.com/silenceper/wechat/v2/util"
)

const (
	benchAppID   = "wxoabench0000001"
	benchToken   = "oabenchToken2024"
	benchAccount = "bench"
	benchGhID    = "gh_oabench"
	// greeting is how the demo flows' answer to 你好 begins.
	greeting = "您好！我是小店的智能客服"
)

func main() {
	redisURL := flag.String("redis", "redis://127.0.0.1:6379/15", "Redis for the in-process kefu (own key prefix, deleted afterwards)")
	conc := flag.Int("c", 32, "concurrent customers, each sending its next message when answered")
	dur := flag.Duration("d", 10*time.Second, "measurement duration per server")
	warm := flag.Duration("warmup", 2*time.Second, "warm-up before measuring")
	text := flag.String("text", "你好", "what each customer writes (answered by a keyword flow)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of kefu's first round to this file")
	memProfile := flag.String("memprofile", "", "write an allocation profile (whole run) to this file")
	rounds := flag.Int("rounds", 3, "rounds of bare then kefu; the median ratio is the verdict (the machine's load varies)")
	flag.Parse()
	if err := run(*redisURL, *conc, *dur, *warm, *text, *cpuProfile, *rounds); err != nil {
		fmt.Fprintln(os.Stderr, "oabench:", err)
		os.Exit(1)
	}
	if *memProfile != "" {
		if err := writeHeapProfile(*memProfile); err != nil {
			fmt.Fprintln(os.Stderr, "oabench:", err)
			os.Exit(1)
		}
	}
}

func run(redisURL string, conc int, dur, warm time.Duration, text, cpuProfile string, rounds int) error {
	ctx := context.Background()
	opts, err := redis.ParseURL(redisURL)
	if err != nil {
		return fmt.Errorf("parsing -redis: %w", err)
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	if err := rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("no Redis at %s: %w", redisURL, err)
	}
	bareLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	bare := startBare(bareLn, benchToken)
	defer func() { _ = bare.ShutdownWithTimeout(5 * time.Second) }()
	bareURL := "http://" + bareLn.Addr().String() + BarePath

	prefix := fmt.Sprintf("kefuoabench%d:", os.Getpid())
	defer benchkefu.DeletePrefix(ctx, rdb, prefix)
	kefu, base, err := startKefu(ctx, redisURL, prefix)
	if err != nil {
		return err
	}
	defer kefu.Shutdown(ctx)
	kefuURL := base + "/wechat/oa/" + benchAccount

	if cpuProfile != "" {
		f, err := os.Create(cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		defer pprof.StopCPUProfile()
	}
	fmt.Printf("official-account text pushes answered passively (%s, %d CPUs shared by the servers, Redis and the load)\n", runtime.Version(), runtime.NumCPU())
	fmt.Printf("  %d customers; per round %s on each server after %s warm-up, one server at a time\n", conc, dur, warm)
	var ratios []float64
	var errors int64
	for r := 1; r <= rounds; r++ {
		b := load(rdb, bareURL, conc, dur, warm, text, func(body []byte) bool {
			return bytes.Contains(body, []byte("<Content><![CDATA["+text+"]]></Content>"))
		})
		if cpuProfile != "" && r == 1 {
			f, _ := os.OpenFile(cpuProfile, os.O_WRONLY, 0)
			_ = pprof.StartCPUProfile(f)
		}
		rt0 := benchkefu.RoundTrips(kefu)
		k := load(rdb, kefuURL, conc, dur, warm, text, func(body []byte) bool {
			return bytes.Contains(body, []byte(greeting))
		})
		trips := (benchkefu.RoundTrips(kefu) - rt0) / float64(k.ok+k.errors+k.bad)
		if cpuProfile != "" && r == 1 {
			pprof.StopCPUProfile()
		}
		fmt.Printf(" round %d\n", r)
		b.print("bare silenceper/wechat + fiber")
		k.print("kefu (Redis, flows, dedup, window)")
		fmt.Printf("  kefu Redis round trips per message %.2f (warm-up included; pipelines and scripts count once)\n", trips)
		ratio := k.throughput() / b.throughput()
		fmt.Printf("  kefu / bare                        %.2f×\n", ratio)
		ratios = append(ratios, ratio)
		errors += k.errors + k.bad
	}
	sort.Float64s(ratios)
	median := ratios[len(ratios)/2]
	verdict := "meets"
	if median < 0.5 || errors > 0 {
		verdict = "MISSES"
	}
	fmt.Printf(" median kefu / bare throughput %.2f× over %d rounds, %d kefu errors — %s the target (≥ 0.5×, no errors)\n", median, rounds, errors, verdict)
	return nil
}

// result is one server's run.
type result struct {
	ok, errors, bad int64
	elapsed         time.Duration
	lat             []time.Duration
	// procCPU and redisCPU are the CPU time this process (server and load
	// generator) and the Redis server used while measuring.
	procCPU, redisCPU time.Duration
}

func (r result) throughput() float64 { return float64(r.ok) / r.elapsed.Seconds() }

func (r result) print(name string) {
	total := r.ok + r.errors + r.bad
	rate := 0.0
	if total > 0 {
		rate = float64(r.errors+r.bad) / float64(total) * 100
	}
	per := func(d time.Duration) string {
		if r.ok == 0 {
			return "-"
		}
		return (d / time.Duration(r.ok)).Round(100 * time.Nanosecond).String()
	}
	fmt.Printf("  %-34s %7.0f msg/s  p50 %-9s p99 %-9s errors %d/%d (%.2f%%)  CPU/msg: process %s, redis %s\n", name, r.throughput(),
		benchkefu.Percentile(r.lat, 50), benchkefu.Percentile(r.lat, 99), r.errors+r.bad, total, rate, per(r.procCPU), per(r.redisCPU))
}

// pushes builds signed plaintext text pushes as WeChat sends them: each
// customer's messages carry increasing MsgIds, so none is a retry.
type pushes struct {
	url  string
	text string
	seq  atomic.Int64
	base int64
}

func (p *pushes) next(customer int) (*http.Request, error) {
	n := p.seq.Add(1)
	now := time.Now()
	ts := strconv.FormatInt(now.Unix(), 10)
	nonce := strconv.FormatInt(n, 10)
	from := "oBenchCustomer" + strconv.Itoa(customer)
	body := "<xml><ToUserName><![CDATA[" + benchGhID + "]]></ToUserName><FromUserName><![CDATA[" + from +
		"]]></FromUserName><CreateTime>" + ts + "</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[" +
		p.text + "]]></Content><MsgId>" + strconv.FormatInt(p.base+n, 10) + "</MsgId></xml>"
	u := p.url + "?signature=" + util.Signature(benchToken, ts, nonce) + "&timestamp=" + ts + "&nonce=" + nonce + "&openid=" + from
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "text/xml")
	return req, nil
}

// load runs conc customers against url for warm+dur and measures dur.
func load(rdb *redis.Client, url string, conc int, dur, warm time.Duration, text string, good func([]byte) bool) result {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conc * 2}, Timeout: 10 * time.Second}
	p := &pushes{url: url, text: text, base: time.Now().UnixNano() / 1000}
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
				req, err := p.next(i)
				if err != nil {
					errs.Add(1)
					continue
				}
				t0 := time.Now()
				res, err := client.Do(req)
				var body []byte
				if err == nil {
					body, err = io.ReadAll(res.Body)
					res.Body.Close()
				}
				d := time.Since(t0)
				if !measuring.Load() {
					continue
				}
				switch {
				case err != nil || res.StatusCode != http.StatusOK:
					errs.Add(1)
				case !good(body):
					bad.Add(1)
				default:
					lat[i] = append(lat[i], d)
				}
			}
		}()
	}
	time.Sleep(warm)
	cpu0, rcpu0 := processCPU(), redisCPU(rdb)
	measuring.Store(true)
	start := time.Now()
	time.Sleep(dur)
	measuring.Store(false)
	elapsed := time.Since(start)
	cpu1, rcpu1 := processCPU(), redisCPU(rdb)
	close(stop)
	wg.Wait()
	client.CloseIdleConnections()
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	return result{ok: int64(len(all)), errors: errs.Load(), bad: bad.Load(), elapsed: elapsed, lat: all, procCPU: cpu1 - cpu0, redisCPU: rcpu1 - rcpu0}
}

// startKefu runs kefu in-process with one verified official account in
// plain mode and the demo flows; workers are off (passive replies only).
// merge_window is 0: each customer sends its next text as soon as the last
// is answered, and merging would hold every answer 1.5 s by design.
func startKefu(ctx context.Context, redisURL, prefix string) (*app.App, string, error) {
	return benchkefu.Start(ctx, redisURL, prefix, fmt.Sprintf(`  wechat_oa:
    - { id: %s, app_id: %s, app_secret: unused, token: %s, verified: true, merge_window: 0s, api_base: "http://127.0.0.1:9" }
`, benchAccount, benchAppID, benchToken))
}

// writeHeapProfile writes the allocations so far (go tool pprof
// -sample_index=alloc_space).
func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	runtime.GC() // the profile counts allocations up to the last collection
	return pprof.Lookup("allocs").WriteTo(f, 0)
}

// processCPU is this process's user+system CPU time so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// redisCPU is the Redis server's used_cpu_sys + used_cpu_user so far.
func redisCPU(rdb *redis.Client) time.Duration {
	info, err := rdb.Info(context.Background(), "cpu").Result()
	if err != nil {
		return 0
	}
	var total float64
	for _, line := range strings.Split(info, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if ok && (k == "used_cpu_sys" || k == "used_cpu_user") {
			f, _ := strconv.ParseFloat(v, 64)
			total += f
		}
	}
	return time.Duration(total * float64(time.Second))
}
