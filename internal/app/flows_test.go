package app_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kefu-gateway/kefu/internal/testutil/apptest"
)

type visitor struct {
	t     *testing.T
	base  string
	token string
}

func newVisitor(t *testing.T, base, site string) *visitor {
	v := &visitor{t: t, base: base + "/api/web/" + site}
	var s struct{ Token string }
	v.call("POST", "/sessions", `{}`, &s)
	v.token = s.Token
	return v
}

type msg struct{ ID, Text, From string }

func (v *visitor) call(method, path, body string, out any) {
	v.t.Helper()
	req, _ := http.NewRequest(method, v.base+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if v.token != "" {
		req.Header.Set("Authorization", "Bearer "+v.token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		v.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		v.t.Fatalf("%s %s: %d %s", method, path, res.StatusCode, b)
	}
	if err := json.Unmarshal(b, out); err != nil {
		v.t.Fatal(err)
	}
}

func (v *visitor) say(text string) []msg {
	var out struct{ Replies []msg }
	v.call("POST", "/messages", fmt.Sprintf(`{"type":"text","text":%q}`, text), &out)
	return out.Replies
}

func (v *visitor) history() []msg {
	var out struct{ Messages []msg }
	v.call("GET", "/messages", "", &out)
	return out.Messages
}

// waitFor polls the history until a bot message contains want.
func (v *visitor) waitFor(want string, d time.Duration) {
	v.t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		for _, m := range v.history() {
			if m.From == "bot" && strings.Contains(m.Text, want) {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	v.t.Fatalf("no bot message containing %q in %s; history: %+v", want, d, v.history())
}

func joined(ms []msg) string {
	var b strings.Builder
	for _, m := range ms {
		b.WriteString(m.Text)
		b.WriteString("\n")
	}
	return b.String()
}

// The demo's order look-up runs an http step against the demo shop that
// kefu itself serves, through {{vars.self_url}}.
func TestDemoOrderLookupThroughHTTPStep(t *testing.T) {
	srv := apptest.Start(t, apptest.DemoConfig(t), apptest.Options{})
	v := newVisitor(t, srv.URL, "demo")
	if r := joined(v.say("查订单")); !strings.Contains(r, "订单号") {
		t.Fatalf("查订单 → %q", r)
	}
	if r := joined(v.say("100001")); !strings.Contains(r, "已发货") || !strings.Contains(r, "SF") {
		t.Fatalf("order 100001 → %q", r)
	}
	if r := joined(v.say("订单999999")); !strings.Contains(r, "没有找到订单") {
		t.Fatalf("unknown order → %q", r)
	}
}

const timerFlow = `
flows:
  - id: ask_phone
    triggers: { keywords: [留电话] }
    steps:
      - ask: 请留下您的手机号
        slot: phone
        type: phone
        timeout: 3s
        reminders:
          - after: 1s
            say: 还在吗？留下手机号我们会尽快联系您
        on_timeout:
          - say: 先不打扰您了，有需要随时找我
`

// Reminders and inactivity timeouts are flow timers: asynq tasks that wake
// the conversation and send through the active path (here the web push).
func TestFlowTimersFireThroughWorkers(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "f.yaml"), []byte(timerFlow), 0o644)
	srv := apptest.Start(t, fmt.Sprintf("workers: { poll_interval: 100ms }\nflows: { dir: %s }\nchannels: { web: [ { id: s } ] }\n", dir), apptest.Options{})
	v := newVisitor(t, srv.URL, "s")
	if r := joined(v.say("留电话")); !strings.Contains(r, "手机号") {
		t.Fatalf("ask → %q", r)
	}
	v.waitFor("还在吗", 5*time.Second)
	v.waitFor("先不打扰您了", 6*time.Second)
	// The flow ended: an answer now is not taken as the phone number.
	if r := joined(v.say("13800138000")); strings.Contains(r, "手机号") {
		t.Errorf("after the timeout the question still waited: %q", r)
	}
}

// Editing a flow file applies without a restart; a broken edit keeps the
// old flows running.
func TestFlowsHotReload(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f.yaml")
	write := func(body string) {
		os.WriteFile(file, []byte(body), 0o644)
		future := time.Now().Add(time.Duration(len(body)) * time.Millisecond)
		os.Chtimes(file, future, future)
	}
	write("flows:\n  - id: a\n    triggers: { keywords: [ping] }\n    steps: [ { say: pong } ]\n")
	srv := apptest.Start(t, fmt.Sprintf("flows: { dir: %s, reload_interval: 100ms }\nchannels: { web: [ { id: s } ] }\n", dir), apptest.Options{})
	v := newVisitor(t, srv.URL, "s")
	if r := joined(v.say("ping")); !strings.Contains(r, "pong") {
		t.Fatalf("before reload: %q", r)
	}
	write("flows:\n  - id: a\n    triggers: { keywords: [ping] }\n    steps: [ { say: pong v2 } ]\n")
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(joined(v.say("ping")), "pong v2") {
		if time.Now().After(deadline) {
			t.Fatal("edited flow never applied")
		}
		time.Sleep(150 * time.Millisecond)
	}
	write("flows:\n  - id: a\n    triggers: { keywords: [ping] }\n    steps: [ { goto: nowhere } ]\n")
	time.Sleep(500 * time.Millisecond)
	if r := joined(v.say("ping")); !strings.Contains(r, "pong v2") {
		t.Fatalf("a broken edit replaced the running flows: %q", r)
	}
	if srv.Logs.FilterMessageSnippet("flow").FilterMessageSnippet("reload").Len() == 0 &&
		srv.Logs.FilterMessageSnippet("flow").Len() == 0 {
		t.Error("the broken edit was not logged")
	}
}
