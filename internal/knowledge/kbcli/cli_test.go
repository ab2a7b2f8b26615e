package kbcli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kefu-gateway/kefu/internal/knowledge"
	"github.com/kefu-gateway/kefu/internal/testutil/redistest"
)

const demoDir = "../../../configs/knowledge"
const demoSet = "../testdata/eval.yaml"

func run(args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	code := RunCLI(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestEval(t *testing.T) {
	code, out, errOut := run("eval", "--dir", demoDir, "--set", demoSet, "--check")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{"accuracy", "heldout", "targets met"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	code, _, errOut = run("eval", "--dir", demoDir, "--set", "missing.yaml")
	if code != 1 || errOut == "" {
		t.Errorf("missing set: exit %d, stderr %q", code, errOut)
	}
}

func TestLint(t *testing.T) {
	if code, out, _ := run("lint", "--dir", demoDir); code != 0 || !strings.Contains(out, "no problems") {
		t.Fatalf("demo lint: exit %d: %s", code, out)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "bad.yaml"), []byte("faqs:\n  - id: a\n    question: 问\n"), 0o644)
	code, out, _ := run("lint", "--dir", dir)
	if code != 1 || !strings.Contains(out, "bad.yaml:2: ") {
		t.Fatalf("bad lint: exit %d: %s", code, out)
	}
	// A folder that is not there is a problem, not an empty base that
	// passes: kefu refuses to start on it.
	missing := filepath.Join(dir, "nope")
	for _, tc := range []struct{ dir, want string }{
		{missing, missing + ":0: cannot read: no such file or directory"},
		{filepath.Join(dir, "bad.yaml"), filepath.Join(dir, "bad.yaml") + ":0: not a directory"},
	} {
		if code, out, _ := run("lint", "--dir", tc.dir); code != 1 || strings.TrimSpace(out) != tc.want {
			t.Errorf("lint --dir %s: exit %d: %q, want %q", tc.dir, code, out, tc.want)
		}
		if code, _, errOut := run("eval", "--dir", tc.dir, "--set", demoSet); code != 1 || strings.TrimSpace(errOut) != tc.want {
			t.Errorf("eval --dir %s: exit %d: %q, want %q", tc.dir, code, errOut, tc.want)
		}
	}
}

func TestUsage(t *testing.T) {
	if code, _, errOut := run(); code != 2 || !strings.Contains(errOut, "usage") {
		t.Errorf("no args: %d %q", code, errOut)
	}
	if code, _, _ := run("frobnicate"); code != 2 {
		t.Errorf("unknown command: %d", code)
	}
	t.Setenv("KEFU_REDIS_URL", "")
	if code, _, errOut := run("gaps"); code != 2 || !strings.Contains(errOut, "--redis") {
		t.Errorf("gaps without Redis: %d %q", code, errOut)
	}
	if code, _, errOut := run("gaps", "-n", "0", "--redis", "redis://127.0.0.1:1"); code != 2 || !strings.Contains(errOut, "-n must be") {
		t.Errorf("gaps -n 0: %d %q", code, errOut)
	}
}

func TestGaps(t *testing.T) {
	db := redistest.New(t)
	client, url, ctx := db.Client, db.URL, context.Background()
	prefix := fmt.Sprintf("kefutest:kbcli:%d:gaps", time.Now().UnixNano())
	g := knowledge.NewGaps(client, knowledge.GapConfig{Prefix: prefix})
	g.Record(ctx, "能寄到国外吗？")
	g.Record(ctx, "请问能寄到国外吗")
	t.Setenv("KEFU_REDIS_URL", url)
	code, out, errOut := run("gaps", "--prefix", prefix, "-n", "5")
	if code != 0 || !strings.Contains(out, "    2  能寄到国外") || !strings.Contains(out, "· 请问能寄到国外吗") {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
}

func TestEvalWithEmbeddings(t *testing.T) {
	var mu sync.Mutex
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct{ Input []string }
		json.NewDecoder(r.Body).Decode(&req)
		mu.Lock()
		calls++
		mu.Unlock()
		var b strings.Builder
		b.WriteString(`{"data":[`)
		for i, in := range req.Input {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"index":%d,"embedding":[%d,1]}`, i, len([]rune(in))%7)
		}
		b.WriteString(`]}`)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, b.String())
	}))
	defer srv.Close()
	t.Setenv("KEFU_LLM_BASE_URL", srv.URL+"/v1")
	t.Setenv("KEFU_LLM_API_KEY", "k")
	code, out, errOut := run("eval", "--dir", demoDir, "--set", demoSet, "--embeddings", "test-embed")
	if code != 0 || !strings.Contains(out, "accuracy") {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	mu.Lock()
	defer mu.Unlock()
	if calls < 2 {
		t.Errorf("%d embeddings calls: the knowledge base and the questions should both be embedded", calls)
	}
	t.Setenv("KEFU_LLM_BASE_URL", "")
	if code, _, errOut := run("eval", "--dir", demoDir, "--set", demoSet, "--embeddings", "m"); code != 2 || !strings.Contains(errOut, "KEFU_LLM_BASE_URL") {
		t.Errorf("--embeddings without a server: exit %d %q", code, errOut)
	}
}
