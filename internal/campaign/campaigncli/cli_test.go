package campaigncli

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kefu-gateway/kefu/internal/campaign"
)

func TestBar(t *testing.T) {
	started := time.Date(2025, 11, 1, 10, 0, 0, 0, time.UTC)
	finished := started.Add(19 * time.Second)
	for _, tc := range []struct {
		p    campaign.Progress
		rate float64
		want string
	}{
		{campaign.Progress{Status: "running", Total: 10000, Sent: 4300, Skipped: 310, Failed: 10, Sending: 8}, 500,
			"[█████████████░░░░░░░░░░░░░░░░░]  46.2%  4,620/10,000  sent 4,300 · skipped 310 · failed 10 · sending 8  ·  500/s, ETA 11s"},
		{campaign.Progress{Status: "paused", Total: 200, Sent: 50, Deferred: 3}, 0,
			"[███████░░░░░░░░░░░░░░░░░░░░░░░]  25.0%  50/200  sent 50 · skipped 0 · failed 0 · deferred 3  (paused)"},
		{campaign.Progress{Status: "completed", Total: 0}, 0,
			"[██████████████████████████████] 100.0%  0/0  sent 0 · skipped 0 · failed 0"},
	} {
		if got := Bar(&tc.p, tc.rate); got != tc.want {
			t.Errorf("Bar(%+v)\n got %s\nwant %s", tc.p, got, tc.want)
		}
	}
	p := campaign.Progress{Status: "completed", Total: 9000, Sent: 8100, Skipped: 900, Started: &started, Finished: &finished,
		SkippedBy: map[string]int64{"window_closed": 400, "opted_out": 500}}
	if got, want := Summary(&p), "completed in 19s: sent 8,100 · skipped 900 (opted_out 500, window_closed 400) · failed 0"; got != want {
		t.Errorf("Summary\n got %s\nwant %s", got, want)
	}
}

// fakeAPI serves a campaign that advances by 250 each poll.
func fakeAPI(t *testing.T) (*httptest.Server, *atomic.Int32) {
	var polls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer good-token-0123456" {
			w.WriteHeader(401)
			_, _ = w.Write([]byte(`{"error":"missing or wrong bearer token"}`))
			return
		}
		switch {
		case r.Method == "GET" && r.URL.Path == "/admin/api/campaigns/c1":
			n := int64(polls.Add(1))
			p := campaign.Progress{ID: "c1", Name: "测试", Status: "running", Total: 1000, Sent: min(1000, 250*n)}
			if p.Sent == 1000 {
				p.Status = "completed"
			}
			_ = json.NewEncoder(w).Encode(p)
		case r.Method == "POST" && r.URL.Path == "/admin/api/campaigns/c1/pause":
			_ = json.NewEncoder(w).Encode(campaign.Progress{ID: "c1", Status: "paused"})
		case r.Method == "POST" && r.URL.Path == "/admin/api/campaigns/done/resume":
			w.WriteHeader(409)
			_, _ = w.Write([]byte(`{"error":"cannot resume a campaign that is completed","field":"status"}`))
		default:
			w.WriteHeader(404)
			_, _ = w.Write([]byte(`{"error":"no such campaign"}`))
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &polls
}

func TestRun(t *testing.T) {
	srv, _ := fakeAPI(t)
	env := func(k string) string {
		return map[string]string{"KEFU_URL": srv.URL, "KEFU_ADMIN_TOKEN": "good-token-0123456"}[k]
	}
	for _, tc := range []struct {
		args []string
		code int
		out  []string
		err  string
	}{
		{args: []string{"status", "c1", "--interval", "100ms"}, code: 0,
			out: []string{"测试 (c1) running", "25.0%", "50.0%", "completed: sent 1,000 · skipped 0 · failed 0"}},
		{args: []string{"pause", "c1"}, code: 0, out: []string{"c1: paused"}},
		{args: []string{"resume", "done"}, code: 1, err: "status: cannot resume a campaign that is completed (HTTP 409)"},
		{args: []string{"status", "nope"}, code: 1, err: "no such campaign (HTTP 404)"},
		{args: []string{"--token", "bad", "list"}, code: 1, err: "missing or wrong bearer token (HTTP 401)"},
		{args: []string{"status"}, code: 2, err: "give exactly one ID"},
		{args: []string{"frobnicate"}, code: 2, err: "unknown command"},
		{args: []string{}, code: 2, err: "usage:"},
		{args: []string{"--url", "http://127.0.0.1:1", "list"}, code: 1, err: "calling kefu at http://127.0.0.1:1"},
	} {
		var out, errw bytes.Buffer
		code := Run(context.Background(), tc.args, &out, &errw, env)
		if code != tc.code || !strings.Contains(errw.String(), tc.err) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tc.args, code, errw.String(), tc.code, tc.err)
		}
		for _, want := range tc.out {
			if !strings.Contains(out.String(), want) {
				t.Errorf("%v: stdout %q lacks %q", tc.args, out.String(), want)
			}
		}
	}
	var out, errw bytes.Buffer
	if code := Run(context.Background(), []string{"status", "c1"}, &out, &errw, func(string) string { return "" }); code != 2 || !strings.Contains(errw.String(), "KEFU_ADMIN_TOKEN") {
		t.Errorf("no token: %d %q", code, errw.String())
	}
}
