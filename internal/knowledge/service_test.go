package knowledge

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const reloadFAQ = `faqs:
  - id: hours
    question: 几点营业？
    similar: [营业时间]
    answer: %s
`

func writeFAQ(t *testing.T, dir, answer string) {
	t.Helper()
	body := strings.Replace(reloadFAQ, "%s", answer, 1)
	// Write to a temp file and rename, as editors and config maps do, so a
	// poll never sees a half-written file.
	tmp := filepath.Join(dir, ".faq.tmp")
	if err := os.WriteFile(tmp, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, "faq.yaml")); err != nil {
		t.Fatal(err)
	}
}

// waitFor polls cond until it holds or a generous deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestHotReload(t *testing.T) {
	dir := t.TempDir()
	writeFAQ(t, dir, "早上九点。")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	svc, err := New(ctx, Config{Dir: dir, ReloadInterval: 10 * time.Millisecond}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	answer := func() string { return svc.Ask(ctx, "营业时间").Text }
	if got := answer(); got != "早上九点。" {
		t.Fatalf("initial answer %q", got)
	}

	writeFAQ(t, dir, "早上十点。")
	waitFor(t, "the edited answer", func() bool { return answer() == "早上十点。" })

	// An invalid edit keeps the previous base and reports file:line.
	if err := os.WriteFile(filepath.Join(dir, "broken.yaml"), []byte("faqs:\n  - id: x\n    question: 问\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the problem report", func() bool { return svc.LastError() != nil })
	var probs Problems
	if !errors.As(svc.LastError(), &probs) || !strings.Contains(probs.Error(), "broken.yaml:2: ") {
		t.Fatalf("LastError = %v, want a file:line problem in broken.yaml", svc.LastError())
	}
	if got := answer(); got != "早上十点。" {
		t.Fatalf("after an invalid edit the answer is %q, want the previous base's", got)
	}

	// Fixing the file applies it.
	if err := os.Remove(filepath.Join(dir, "broken.yaml")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "recovery", func() bool { return svc.LastError() == nil })
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
}

func TestNewReportsProblems(t *testing.T) {
	dir := writeFiles(t, map[string]string{"a.yaml": "faqs:\n  - id: x\n"})
	_, err := New(context.Background(), Config{Dir: dir}, Options{})
	var probs Problems
	if !errors.As(err, &probs) {
		t.Fatalf("New on a broken dir: %v, want Problems", err)
	}
	if _, err := New(context.Background(), Config{Dir: dir, Policy: PolicyConfig{AnswerThreshold: 2}}, Options{}); err == nil {
		t.Fatal("invalid policy accepted")
	}
}

func TestGrounding(t *testing.T) {
	svc, err := New(context.Background(), Config{Dir: "../../configs/knowledge", ReloadInterval: -1}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ps := svc.Grounding(context.Background(), "能寄到海外吗", nil, 4)
	if len(ps) == 0 || len(ps) > 4 {
		t.Fatalf("got %d passages", len(ps))
	}
	found := false
	for _, p := range ps {
		found = found || strings.Contains(p.Text, "海外")
	}
	if !found {
		t.Errorf("the shipping document's overseas passage is not among %+v", ps)
	}
	if got := svc.Grounding(context.Background(), "退货运费", nil, 0); got != nil {
		t.Errorf("n=0 returned %v", got)
	}
}
