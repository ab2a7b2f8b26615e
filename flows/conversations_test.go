package flows_test

import (
	"strings"
	"testing"

	"github.com/kefu-gateway/kefu/flows"
	"github.com/kefu-gateway/kefu/flows/flowtest"
)

// TestDemoConversations runs every conversation test of the shipped demo
// (configs/flows) through the real engine, so `go test ./...` covers it.
func TestDemoConversations(t *testing.T) {
	runConversations(t, "../configs/flows", 30)
}

// TestFeatureConversations covers every step type and engine rule.
func TestFeatureConversations(t *testing.T) {
	runConversations(t, "testdata/features", 20)
}

func runConversations(t *testing.T, dir string, atLeast int) {
	t.Helper()
	rep := flowtest.RunPaths([]string{dir}, flows.Config{})
	for _, p := range rep.Problems {
		t.Error(p.String())
	}
	for _, f := range rep.Failures {
		t.Error(f)
	}
	if rep.Passed < atLeast {
		t.Errorf("only %d cases passed in %s, want at least %d", rep.Passed, dir, atLeast)
	}
	t.Log(rep.Summary())
}

func TestDemoLintsClean(t *testing.T) {
	set, probs := flows.Lint("../configs/flows")
	if set == nil || len(probs) > 0 {
		t.Fatalf("demo flows have problems:\n%v", probs.Error())
	}
	if set.Flow("greeting") == nil {
		t.Fatal("the demo must keep a greeting flow: outside checks rely on it")
	}
	names := map[string]bool{}
	for _, in := range set.Intents() {
		names[in.Name] = true
		if len(in.Examples) == 0 || in.Flow == "" {
			t.Errorf("intent %+v lacks examples or flow", in)
		}
	}
	if !names["order_status"] || !names["wholesale"] {
		t.Errorf("intents = %v", names)
	}
	for _, w := range []string{"你好", "hello", "hi"} {
		e := flows.NewEngine(set)
		res := e.Step(flows.State{}, flows.Input{Kind: flows.InputText, Text: w})
		if !res.Handled || len(res.Actions) == 0 || !strings.Contains(res.Actions[0].Text, "您好") {
			t.Errorf("%q: %+v", w, res)
		}
	}
}
