package app_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kefu-gateway/kefu/internal/testutil/apptest"
	"github.com/kefu-gateway/kefu/internal/testutil/rawhttp"
	"github.com/kefu-gateway/kefu/internal/testutil/redistest"
)

// rawGet sends a GET of /healthz with query and a padding header of pad
// bytes over its own connection (rawhttp), so a server that answers and
// closes early is still heard, and returns the status.
func rawGet(t *testing.T, addr, query string, pad int) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+addr+"/healthz?"+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	if pad > 0 {
		req.Header.Set("X-Pad", strings.Repeat("p", pad))
	}
	res, err := rawhttp.Do(addr, req, 10*time.Second)
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	return res.StatusCode
}

// TestHeaderLimit: a request line and headers within http.header_limit are
// read whole (platform callbacks with long queries reach their handler and
// get its answer), and beyond it the server answers 431.
func TestHeaderLimit(t *testing.T) {
	srv := apptest.Start(t, "http:\n  header_limit: 8192\n", apptest.Options{})
	long := "timestamp=" + strings.Repeat("9", 3000) + "&nonce=" + strings.Repeat("9", 3000)
	if got := rawGet(t, srv.Addr, long, 0); got != http.StatusOK {
		t.Errorf("a 6 KB query under an 8 KB limit answered %d, want 200", got)
	}
	if got := rawGet(t, srv.Addr, "a=1", 9000); got != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("9 KB of headers over an 8 KB limit answered %d, want 431", got)
	}
	def := apptest.Start(t, "", apptest.Options{})
	if got := rawGet(t, def.Addr, long+"&signature="+strings.Repeat("9", 5000), 0); got != http.StatusOK {
		t.Errorf("an 11 KB query under the default 16 KB limit answered %d, want 200", got)
	}
}

// /healthz says the process is up, /readyz also that Redis answers (503
// while it does not), and /metrics is Prometheus's text format with
// kefu's series.
func TestHealthReadinessAndMetrics(t *testing.T) {
	db := redistest.Private(t)
	srv := apptest.Start(t, "", apptest.Options{DB: db, NoWorkers: true})
	get := func(path string) (int, string, string) {
		t.Helper()
		res, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b), res.Header.Get("Content-Type")
	}
	if st, body, _ := get("/healthz"); st != 200 || body != "ok" {
		t.Errorf("/healthz = %d %q", st, body)
	}
	if st, body, _ := get("/readyz"); st != 200 || body != "ok" {
		t.Errorf("/readyz with Redis up = %d %q", st, body)
	}
	st, body, ct := get("/metrics")
	if st != 200 || !strings.HasPrefix(ct, "text/plain") || !strings.Contains(body, "# TYPE kefu_redis_roundtrips_total counter") {
		t.Errorf("/metrics = %d %q, %d bytes without kefu's round-trip counter", st, ct, len(body))
	}
	db.Server.SetError("LOADING Redis is loading the dataset in memory")
	if st, _, _ := get("/readyz"); st != http.StatusServiceUnavailable {
		t.Errorf("/readyz with Redis failing = %d, want 503", st)
	}
	if st, _, _ := get("/healthz"); st != 200 {
		t.Errorf("/healthz with Redis failing = %d, want 200 (the process is alive)", st)
	}
	db.Server.SetError("")
	if st, _, _ := get("/readyz"); st != 200 {
		t.Errorf("/readyz after Redis recovered = %d", st)
	}
}
