package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/kefu-gateway/kefu/internal/testutil/apptest"
	"github.com/kefu-gateway/kefu/internal/testutil/redistest"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// kefuBinary builds ./cmd/kefu once per test run.
func kefuBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "kefu-e2e-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "kefu")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/kefu")
		cmd.Dir = apptest.RepoRoot()
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("building kefu: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// process is a running kefu binary.
type process struct {
	cmd    *exec.Cmd
	addr   string
	output *syncBuffer
	done   chan error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// cleanEnv is the environment without any KEFU_ variable, so the process
// sees only what the test gives it.
func cleanEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "KEFU_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

func startKefu(t *testing.T, args []string, env ...string) *process {
	t.Helper()
	addr := freeAddr(t)
	cmd := exec.Command(kefuBinary(t), args...)
	cmd.Dir = apptest.RepoRoot()
	cmd.Env = cleanEnv(append(env, "KEFU_HTTP_ADDR="+addr)...)
	p := &process{cmd: cmd, addr: addr, output: &syncBuffer{}, done: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = p.output, p.output
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
		}
		if t.Failed() {
			t.Logf("kefu output:\n%s", p.output.String())
		}
	})
	if args == nil || args[0] != "worker" {
		p.waitHealthy(t)
	}
	return p
}

func (p *process) url() string { return "http://" + p.addr }

func (p *process) waitHealthy(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-p.done:
			t.Fatalf("kefu exited early: %v\n%s", err, p.output.String())
		default:
		}
		res, err := http.Get(p.url() + "/healthz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("kefu did not become healthy:\n%s", p.output.String())
}

func postJSON(t *testing.T, url, token, body string, out any) int {
	t.Helper()
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if out != nil && res.StatusCode == 200 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("decoding %s: %v", b, err)
		}
	}
	return res.StatusCode
}

type session struct {
	VisitorID string `json:"visitor_id"`
	Token     string `json:"token"`
}

type replies struct {
	Replies []struct {
		ID, Text, From string
	} `json:"replies"`
}

// The README's first command: no Redis, no configuration flags, the demo.
func TestDemoRunsWithNoSetup(t *testing.T) {
	p := startKefu(t, nil)
	var s session
	if st := postJSON(t, p.url()+"/api/web/demo/sessions", "", `{}`, &s); st != 200 {
		t.Fatalf("session: %d", st)
	}
	var r replies
	if st := postJSON(t, p.url()+"/api/web/demo/messages", s.Token, `{"type":"text","text":"你好"}`, &r); st != 200 {
		t.Fatalf("message: %d", st)
	}
	if len(r.Replies) == 0 || !strings.Contains(r.Replies[0].Text, "您好") {
		t.Fatalf("demo reply to 你好 = %+v", r.Replies)
	}
	for _, path := range []string{"/", "/widget.js", "/readyz", "/metrics"} {
		res, err := http.Get(p.url() + path)
		if err != nil || res.StatusCode != 200 {
			t.Errorf("GET %s: %v %v", path, err, res)
		} else {
			res.Body.Close()
		}
	}
	if !strings.Contains(p.output.String(), "NOTHING PERSISTS") {
		t.Errorf("no loud warning about the embedded Redis in:\n%s", p.output.String())
	}
}

// Two `kefu serve` processes on one Redis: a visitor connected to one gets
// the replies to a message posted through the other. A third process runs
// `kefu worker` alongside.
func TestTwoServeProcessesShareRedis(t *testing.T) {
	db := redistest.New(t)
	env := "KEFU_REDIS_URL=" + db.URL
	a := startKefu(t, []string{"serve", "--workers=false"}, env)
	b := startKefu(t, []string{"serve"}, env)
	startKefu(t, []string{"worker"}, env)

	var s session
	if st := postJSON(t, a.url()+"/api/web/demo/sessions", "", `{}`, &s); st != 200 {
		t.Fatalf("session on a: %d", st)
	}
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+a.addr+"/ws/web/demo?token="+s.Token, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	var r replies
	if st := postJSON(t, b.url()+"/api/web/demo/messages", s.Token, `{"type":"text","text":"你好"}`, &r); st != 200 || len(r.Replies) == 0 {
		t.Fatalf("message via b: %d %+v", st, r)
	}
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		var f struct {
			Type    string
			Message struct{ ID, From, Text string }
		}
		if err := ws.ReadJSON(&f); err != nil {
			t.Fatalf("websocket on a: %v", err)
		}
		if f.Type == "message" && f.Message.From == "bot" {
			if f.Message.ID != r.Replies[0].ID {
				t.Errorf("a pushed %s, b answered %s", f.Message.ID, r.Replies[0].ID)
			}
			break
		}
	}
}

func TestBadConfigFailsAtStartNamingTheKey(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "kefu.yaml")
	os.WriteFile(cfg, []byte("http:\n  adr: \":9999\"\nchannels:\n  web:\n    - title: no id\n"), 0o644)
	out, code := runKefu(t, "serve", "--config", cfg)
	if code != 2 {
		t.Fatalf("exit code %d, want 2\n%s", code, out)
	}
	for _, want := range []string{cfg + `:2: http.adr: unknown key (did you mean "addr"?)`} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	os.WriteFile(cfg, []byte("channels:\n  web:\n    - title: no id\n"), 0o644)
	out, code = runKefu(t, "serve", "--config", cfg)
	if code != 2 || !strings.Contains(out, cfg+":3: channels.web[0].id: REQUIRED") {
		t.Errorf("missing site id: exit %d\n%s", code, out)
	}
	out, code = runKefu(t, "worker")
	if code != 2 || !strings.Contains(out, "needs redis.url") {
		t.Errorf("worker on the embedded Redis: exit %d\n%s", code, out)
	}
}

func runKefu(t *testing.T, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(kefuBinary(t), args...)
	cmd.Dir = apptest.RepoRoot()
	cmd.Env = cleanEnv()
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), code
}

// SIGTERM lets requests in flight finish, then exits 0.
func TestGracefulShutdown(t *testing.T) {
	db := redistest.New(t)
	p := startKefu(t, []string{"serve"}, "KEFU_REDIS_URL="+db.URL)
	var s session
	postJSON(t, p.url()+"/api/web/demo/sessions", "", `{}`, &s)
	var r replies
	postJSON(t, p.url()+"/api/web/demo/messages", s.Token, `{"type":"text","text":"你好"}`, &r)
	status := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest("GET", p.url()+"/api/web/demo/messages?wait=20&after="+r.Replies[0].ID, nil)
		req.Header.Set("Authorization", "Bearer "+s.Token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			status <- -1
			return
		}
		res.Body.Close()
		status <- res.StatusCode
	}()
	time.Sleep(300 * time.Millisecond)
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case st := <-status:
		if st != 200 {
			t.Errorf("request in flight during shutdown got %d", st)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("request in flight never answered")
	}
	select {
	case err := <-p.done:
		if err != nil {
			t.Errorf("exit after SIGTERM: %v\n%s", err, p.output.String())
		}
		p.done <- err
	case <-time.After(30 * time.Second):
		t.Fatal("kefu did not exit after SIGTERM")
	}
}

// `kefu worker --config FILE` does the background work on its own: with the
// only `kefu serve` started --workers=false, a flow's reminder reaches the
// visitor only if the worker process runs the timer.
func TestWorkerProcessRunsTheTimers(t *testing.T) {
	db := redistest.New(t)
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "flows"), 0o755); err != nil {
		t.Fatal(err)
	}
	flow := `flows:
  - id: remind
    triggers: { keywords: [提醒我] }
    steps:
      - ask: 请发送您的手机号：
        slot: phone
        timeout: 1m
        reminders:
          - after: 1s
            say: 还在吗？请发送手机号。
`
	if err := os.WriteFile(filepath.Join(dir, "flows", "remind.yaml"), []byte(flow), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "kefu.yaml")
	body := fmt.Sprintf("redis:\n  url: %s\nflows:\n  dir: %s\nchannels:\n  web:\n    - id: demo\n", db.URL, filepath.Join(dir, "flows"))
	if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := startKefu(t, []string{"serve", "--workers=false", "--config", cfg})
	startKefu(t, []string{"worker", "--config", cfg})

	var s session
	if st := postJSON(t, srv.url()+"/api/web/demo/sessions", "", `{}`, &s); st != 200 {
		t.Fatalf("session: %d", st)
	}
	var r replies
	if st := postJSON(t, srv.url()+"/api/web/demo/messages", s.Token, `{"type":"text","text":"提醒我"}`, &r); st != 200 ||
		len(r.Replies) == 0 || !strings.Contains(r.Replies[len(r.Replies)-1].Text, "手机号") {
		t.Fatalf("the question: %d %+v", st, r)
	}
	after := r.Replies[len(r.Replies)-1].ID
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		req, _ := http.NewRequest("GET", srv.url()+"/api/web/demo/messages?wait=10&after="+after, nil)
		req.Header.Set("Authorization", "Bearer "+s.Token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var got struct{ Messages []struct{ ID, Text string } }
		err = json.NewDecoder(res.Body).Decode(&got)
		res.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range got.Messages {
			if strings.Contains(m.Text, "还在吗") {
				return
			}
			after = m.ID
		}
	}
	t.Fatal("the reminder never came: the worker process did not run the flow's timer")
}

// `kefu flows lint` and `kefu flows test` through the binary: problems as
// file:line: message and exit 1; the shipped flows pass.
func TestFlowsCommands(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("flows:\n  - id: a\n    triggers: { keywords: [x] }\n    steps:\n      - goto: nowhere\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, code := runKefu(t, "flows", "lint", dir)
	if code != 1 || !strings.Contains(out, bad+":5:") {
		t.Errorf("lint of a flow going nowhere: exit %d\n%s", code, out)
	}
	out, code = runKefu(t, "flows", "test", "configs/flows")
	if code != 0 || !strings.Contains(out, " passed, 0 failed") {
		t.Errorf("the shipped flows' tests: exit %d\n%s", code, out)
	}
	good := t.TempDir()
	flow := "flows:\n  - id: hi\n    triggers: { keywords: [hi] }\n    steps:\n      - say: hello\n"
	test := "tests:\n  - name: wrong expectation\n    turns:\n      - user: hi\n        bot: [goodbye]\n"
	if err := os.WriteFile(filepath.Join(good, "hi.yaml"), []byte(flow), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(good, "hi_test.yaml"), []byte(test), 0o644); err != nil {
		t.Fatal(err)
	}
	out, code = runKefu(t, "flows", "test", good)
	if code != 1 || !strings.Contains(out, "0 passed, 1 failed") || !strings.Contains(out, "wrong expectation") ||
		!strings.Contains(out, "goodbye") || strings.Contains(out, "invalid test file") {
		t.Errorf("a failing conversation test: exit %d\n%s", code, out)
	}
}
