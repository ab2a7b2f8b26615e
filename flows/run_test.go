package flows_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kefu-gateway/kefu/flows"
	"github.com/kefu-gateway/kefu/internal/demoshop"
	"github.com/kefu-gateway/kefu/internal/testutil/flowset"
)

var now = time.Date(2024, 5, 1, 10, 0, 0, 0, time.FixedZone("CST", 8*3600))

func sayTexts(res flows.Result) string {
	var out []string
	for _, a := range res.Actions {
		if a.Kind == flows.ActionSay {
			out = append(out, a.Text)
		}
	}
	return strings.Join(out, "\n")
}

// TestDemoOrderFlowAgainstDemoShop runs the shipped order flow through the
// Runner and the real HTTP client against the demo shop handler.
func TestDemoOrderFlowAgainstDemoShop(t *testing.T) {
	mux := http.NewServeMux()
	mux.Handle(demoshop.Prefix+"/", demoshop.NewHandler(demoshop.Prefix))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	set, err := flows.LoadDir("../configs/flows")
	if err != nil {
		t.Fatal(err)
	}
	cfg := flows.Config{Vars: map[string]string{"shop_api": "{{vars.self_url}}/demo/shop"}}
	engine := flows.NewEngine(set, flows.WithConfig(cfg))
	runner := flows.NewRunner(engine, flows.NewHTTPClient(cfg), nil)
	in := flows.Input{Kind: flows.InputText, Now: now, Vars: map[string]string{"self_url": srv.URL}}

	in.Text = "订单100001"
	res := runner.Run(context.Background(), flows.State{}, in)
	if got := sayTexts(res); !strings.Contains(got, "顺丰速运 运单号 SF1234567890") || res.AwaitHTTP != nil {
		t.Fatalf("says %q", got)
	}
	in.Text = "订单999999"
	res = runner.Run(context.Background(), res.State, in)
	if got := sayTexts(res); !strings.Contains(got, "没有找到订单 999999") || !res.State.Waiting() {
		t.Fatalf("says %q, state %+v", got, res.State)
	}
	in.Text = "100002"
	res = runner.Run(context.Background(), res.State, in)
	if got := sayTexts(res); !strings.Contains(got, "待发货") {
		t.Fatalf("says %q", got)
	}
}

// TestDemoReturnFlowPostsToDemoShop submits the return form for real.
func TestDemoReturnFlowPostsToDemoShop(t *testing.T) {
	srv := httptest.NewServer(demoshop.NewHandler(""))
	defer srv.Close()
	set, err := flows.LoadDir("../configs/flows")
	if err != nil {
		t.Fatal(err)
	}
	cfg := flows.Config{Vars: map[string]string{"shop_api": srv.URL}}
	runner := flows.NewRunner(flows.NewEngine(set, flows.WithConfig(cfg)), flows.NewHTTPClient(cfg), nil)
	var st flows.State
	var res flows.Result
	for _, msg := range []string{"退货", "100003", "2", "13800138000", "1"} {
		res = runner.Run(context.Background(), st, flows.Input{Kind: flows.InputText, Text: msg, Now: now})
		st = res.State
	}
	if got := sayTexts(res); !strings.Contains(got, "编号 RT100003") {
		t.Fatalf("says %q", got)
	}
}

type countingDoer struct{ calls atomic.Int32 }

func (d *countingDoer) Do(_ context.Context, req flows.HTTPRequest) flows.HTTPResponse {
	d.calls.Add(1)
	return flows.HTTPResponse{Token: req.Token, Status: 200, Body: []byte(`{"n":1}`)}
}

func TestRunnerCapsHTTPCallsPerTurn(t *testing.T) {
	set := flowset.Load(t, `
flows:
  - id: poll
    triggers: { keywords: [poll] }
    steps:
      - id: again
        http: { url: "http://x.test/poll" }
        on_error:
          - say: gave up
      - goto: again
`)
	doer := &countingDoer{}
	runner := flows.NewRunner(flows.NewEngine(set, flows.WithConfig(flows.Config{MaxHTTPPerTurn: 3})), doer, nil)
	res := runner.Run(context.Background(), flows.State{}, flows.Input{Kind: flows.InputText, Text: "poll", Now: now})
	if doer.calls.Load() != 3 || sayTexts(res) != "gave up" || !res.Handled || res.AwaitHTTP != nil {
		t.Fatalf("calls=%d says=%q res=%+v", doer.calls.Load(), sayTexts(res), res)
	}
}

func TestRunnerWithCancelledContextFailsTheStep(t *testing.T) {
	set := flowset.Load(t, `
flows:
  - id: h
    triggers: { keywords: [h] }
    steps:
      - http: { url: "http://x.test/" }
`)
	doer := &countingDoer{}
	runner := flows.NewRunner(flows.NewEngine(set), doer, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res := runner.Run(ctx, flows.State{}, flows.Input{Kind: flows.InputText, Text: "h", Now: now})
	if doer.calls.Load() != 0 || !strings.Contains(sayTexts(res), "查询暂时失败") {
		t.Fatalf("calls=%d says=%q", doer.calls.Load(), sayTexts(res))
	}
}

func TestHTTPClient(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := hits.Add(1)
		switch r.URL.Path {
		case "/flaky":
			if n < 3 {
				w.WriteHeader(http.StatusBadGateway)
				return
			}
			if r.Header.Get("X-Token") != "t" || r.Method != "POST" {
				w.WriteHeader(http.StatusBadRequest)
				return
			}
			_, _ = w.Write([]byte(`{"ok":true}`))
		case "/slow":
			time.Sleep(200 * time.Millisecond)
		case "/big":
			_, _ = w.Write([]byte(strings.Repeat("x", 2048)))
		case "/missing":
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	defer srv.Close()
	c := flows.NewHTTPClient(flows.Config{HTTPMaxBody: 1024, HTTPRetryBackoff: time.Millisecond})
	ctx := context.Background()

	resp := c.Do(ctx, flows.HTTPRequest{Token: "a", Method: "POST", URL: srv.URL + "/flaky", Headers: map[string]string{"X-Token": "t"}, Body: "{}", Retries: 2, Timeout: time.Second})
	if resp.Status != 200 || string(resp.Body) != `{"ok":true}` || resp.Token != "a" || hits.Load() != 3 {
		t.Fatalf("flaky: %+v after %d hits", resp, hits.Load())
	}
	hits.Store(0)
	if resp := c.Do(ctx, flows.HTTPRequest{Method: "GET", URL: srv.URL + "/missing", Retries: 3}); resp.Status != 404 || hits.Load() != 1 {
		t.Fatalf("a 404 must not be retried: %+v, %d hits", resp, hits.Load())
	}
	if resp := c.Do(ctx, flows.HTTPRequest{Method: "GET", URL: srv.URL + "/slow", Timeout: 20 * time.Millisecond}); !strings.Contains(resp.Err, "timed out") {
		t.Fatalf("slow: %+v", resp)
	}
	if resp := c.Do(ctx, flows.HTTPRequest{Method: "GET", URL: srv.URL + "/big"}); !strings.Contains(resp.Err, "larger than 1024") {
		t.Fatalf("big: %+v", resp)
	}
	for _, u := range []string{"ftp://x/y", "not a url", "http://"} {
		if resp := c.Do(ctx, flows.HTTPRequest{Method: "GET", URL: u}); !strings.Contains(resp.Err, "bad url") {
			t.Fatalf("%q: %+v", u, resp)
		}
	}
	if resp := c.Do(ctx, flows.HTTPRequest{Method: "GET", URL: "http://user:pw@127.0.0.1:1/x?secret=1"}); resp.Err == "" || strings.Contains(resp.Err, "secret") || strings.Contains(resp.Err, "pw") {
		t.Fatalf("refused: %+v", resp)
	}
}

// TestRunPureAnswersWithoutIOOrDeclines: a keyword answered by say steps
// comes out as Run gives it; a flow that needs an HTTP step is declined
// without the call being made.
func TestRunPureAnswersWithoutIOOrDeclines(t *testing.T) {
	set := flowset.Load(t, `
flows:
  - id: hi
    triggers: { keywords: [hi] }
    steps:
      - say: hello
  - id: h
    triggers: { keywords: [h] }
    steps:
      - http: { url: "http://x.test/" }
      - say: done
`)
	doer := &countingDoer{}
	runner := flows.NewRunner(flows.NewEngine(set), doer, nil)
	in := flows.Input{Kind: flows.InputText, Text: "hi", Now: now}
	pure, ok := runner.RunPure(flows.State{}, in)
	run := runner.Run(context.Background(), flows.State{}, in)
	if !ok || sayTexts(pure) != "hello" || sayTexts(pure) != sayTexts(run) || pure.Handled != run.Handled || pure.State.Flow != run.State.Flow {
		t.Fatalf("pure %+v ok=%v, run %+v", pure, ok, run)
	}
	in.Text = "h"
	if res, ok := runner.RunPure(flows.State{}, in); ok || len(res.Actions) != 0 || doer.calls.Load() != 0 {
		t.Fatalf("an HTTP step ran purely: ok=%v res=%+v calls=%d", ok, res, doer.calls.Load())
	}
	if res := runner.Run(context.Background(), flows.State{}, in); sayTexts(res) != "done" || doer.calls.Load() != 1 {
		t.Fatalf("Run after a declined RunPure: says %q, calls %d", sayTexts(res), doer.calls.Load())
	}
}
