package app_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kefu-gateway/kefu/internal/testutil/apptest"
	"github.com/kefu-gateway/kefu/internal/testutil/rawhttp"
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
