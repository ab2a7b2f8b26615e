package flows

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeFlows(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestLintErrors checks that every kind of mistake is reported as an error
// at the right file and line.
func TestLintErrors(t *testing.T) {
	head := "flows:\n  - id: f\n    triggers: { keywords: [x] }\n    steps:\n"
	cases := []struct {
		name, body string
		line       int
		want       string
	}{
		{"yaml syntax", "flows:\n  - id: f\n    steps: [\n", 3, "invalid YAML"},
		{"unknown top key", "flow:\n  - id: f\n", 1, `unknown key "flow" in flow file (did you mean "flows"?)`},
		{"unknown flow key", "flows:\n  - id: f\n    trigger: {}\n    steps: [{say: x}]\n", 3, `unknown key "trigger" in flow (did you mean "triggers"?)`},
		{"unknown step key", head + "      - say: hi\n        choice: [a]\n", 6, `unknown key "choice" in say step (did you mean "choices"?)`},
		{"unknown trigger key", "flows:\n  - id: f\n    triggers: { keyword: [x] }\n    steps: [{say: x}]\n", 3, `unknown key "keyword" in triggers`},
		{"no step kind", head + "      - sya: hi\n", 5, `step has no kind`},
		{"two step kinds", head + "      - say: hi\n        goto: a\n", 5, "more than one kind"},
		{"unknown goto target", head + "      - goto: nowhere\n", 5, `goto: unknown step "nowhere"`},
		{"unknown handler target", head + "      - ask: q\n        slot: s\n        on_exhausted: nowhere\n", 7, `on_exhausted: unknown step "nowhere"`},
		{"unknown call flow", head + "      - call: ghost\n", 5, `call: unknown flow "ghost"`},
		{"unknown start flow", head + "      - start: ghost\n", 5, `start: unknown flow "ghost"`},
		{"unknown followup flow", head + "      - followup: { delay: 1h, flow: ghost }\n", 5, `followup: unknown flow "ghost"`},
		{"self call", head + "      - call: f\n", 5, "calls itself"},
		{"duplicate step id", head + "      - id: a\n        say: one\n      - id: a\n        say: two\n", 7, `duplicate step id "a"`},
		{"bad trigger regex", "flows:\n  - id: f\n    triggers:\n      regex: ['(']\n    steps: [{say: x}]\n", 4, "bad regex"},
		{"bad pattern", head + "      - ask: q\n        slot: s\n        type: regex\n        pattern: '[a'\n", 8, "bad regex"},
		{"bad if expression", head + "      - if: slots.a ==\n        then: [{say: x}]\n", 5, "does not compile"},
		{"unknown name in expression", head + "      - if: slot.a == 1\n        then: [{say: x}]\n", 5, "does not compile"},
		{"non-boolean condition", head + "      - if: '\"text\"'\n        then: [{say: x}]\n", 5, "does not compile"},
		{"bad guard", "flows:\n  - id: f\n    when: contact.tags +\n    steps: [{say: x}]\n", 3, "when:"},
		{"bad template", head + "      - say: 'hi {{slots.a +}}'\n", 5, "does not compile"},
		{"unclosed template", head + "      - say: 'hi {{slots.a'\n", 5, "without a matching"},
		{"undefined slot", head + "      - say: 'hi {{slots.nobody}}'\n", 5, "slots.nobody is never set"},
		{"unreachable step", head + "      - end\n      - say: lost\n", 6, "unreachable"},
		{"unreachable after goto", head + "      - id: a\n        say: x\n      - goto: a\n      - say: lost\n", 8, "unreachable"},
		{"unknown event", "flows:\n  - id: f\n    triggers: { events: [follow] }\n    steps: [{say: x}]\n", 3, `unknown event "follow"`},
		{"ask without slot", head + "      - ask: q\n", 5, "no slot"},
		{"unknown answer type", head + "      - ask: q\n        slot: s\n        type: mobile\n", 7, `unknown answer type "mobile"`},
		{"bad duration", head + "      - ask: q\n        slot: s\n        timeout: soon\n", 7, "positive duration"},
		// 213504 days wrapped around to about 33 minutes. The other two
		// overflowed into negative durations, refused only by luck; all
		// three now say why.
		{"days past a Duration", head + "      - ask: q\n        slot: s\n        timeout: 213504d\n", 7, "positive duration such as 30s, 10m, 2h or 3d, got \"213504d\": longer than kefu can count"},
		{"days past an int64", head + "      - ask: q\n        slot: s\n        timeout: 99999999999999999999d1h\n", 7, "longer than kefu can count"},
		{"days plus more", head + "      - ask: q\n        slot: s\n        timeout: 106751d2562047h\n", 7, "longer than kefu can count"},
		{"reminder after timeout", head + "      - ask: q\n        slot: s\n        timeout: 1m\n        reminders: [{after: 2m}]\n", 8, "at or after the timeout"},
		{"choice without choices", head + "      - ask: q\n        slot: s\n        type: choice\n", 5, "no choices"},
		{"http without url", head + "      - http: { method: GET }\n", 5, "no url"},
		{"http bad method", head + "      - http: { method: FETCH, url: 'http://x' }\n", 5, "unknown HTTP method"},
		{"http relative url", head + "      - http: { url: '/x' }\n", 5, "must start with http"},
		{"followup without when", head + "      - followup: { text: hi }\n", 5, "needs delay or at"},
		{"flow without id", "flows:\n  - steps: [{say: x}]\n", 2, "no id"},
		{"flow without steps", "flows:\n  - id: f\n", 2, "no steps"},
		{"test key in flow file", "tests: []\n", 1, "*_test.yaml"},
		{"bad end", head + "      - end: later\n", 5, "end takes"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeFlows(t, map[string]string{"a.yaml": tc.body})
			set, probs := Lint(dir)
			if set != nil {
				t.Fatalf("want an error, got a set; problems: %v", probs)
			}
			file := filepath.Join(dir, "a.yaml")
			for _, p := range probs.Errors() {
				if p.File == file && p.Line == tc.line && strings.Contains(p.Msg, tc.want) {
					if s := p.String(); !strings.HasPrefix(s, file+":") {
						t.Errorf("String() = %q", s)
					}
					return
				}
			}
			t.Errorf("want %s:%d: ...%s..., got:\n%s", file, tc.line, tc.want, probs.Error())
		})
	}
}

func TestLintDuplicateFlowAcrossFiles(t *testing.T) {
	dir := writeFlows(t, map[string]string{
		"a.yaml":     "flows:\n  - id: same\n    steps: [{say: a}]\n",
		"sub/b.yaml": "flows:\n  - id: other\n    steps: [{say: b}]\n  - id: same\n    steps: [{say: c}]\n",
	})
	_, probs := Lint(dir)
	want := filepath.Join(dir, "sub/b.yaml") + ":4: duplicate flow id \"same\""
	if !strings.Contains(probs.Error(), want) {
		t.Fatalf("want %q in\n%s", want, probs.Error())
	}
}

func TestLintWarningsDoNotBlock(t *testing.T) {
	dir := writeFlows(t, map[string]string{
		"a.yaml": "flows:\n  - id: orphan\n    steps: [{say: a}]\n" +
			"  - id: m\n    triggers: { keywords: [go] }\n    steps:\n      - say: pick\n        choices: [nothing here]\n" +
			"  - id: m2\n    triggers: { keywords: [go] }\n    steps: [{say: b}]\n",
		"skip_test.yaml": "tests: []\n",
		".hidden/x.yaml": "broken: [",
	})
	set, probs := Lint(dir)
	if set == nil {
		t.Fatalf("warnings must not block loading: %v", probs)
	}
	text := probs.Error()
	for _, want := range []string{"warning: flow \"orphan\" has no triggers", "warning: choice \"nothing here\" triggers no flow", "warning: keyword \"go\" also triggers flow \"m\""} {
		if !strings.Contains(text, want) {
			t.Errorf("missing %q in\n%s", want, text)
		}
	}
	if s, err := LoadDir(dir); err != nil || len(s.Flows) != 3 {
		t.Errorf("LoadDir: %v, %v", s, err)
	}
}

func TestLoadDirErrorsAreProblems(t *testing.T) {
	dir := writeFlows(t, map[string]string{"a.yaml": "flows:\n  - id: f\n    steps:\n      - goto: x\n"})
	_, err := LoadDir(dir)
	ps, ok := err.(Problems)
	if !ok || len(ps) != 1 || ps[0].Line != 4 {
		t.Fatalf("err = %#v", err)
	}
	if s, err := LoadDir(filepath.Join(dir, "missing")); err != nil || len(s.Flows) != 0 {
		t.Fatalf("missing dir: %v %v", s, err)
	}
	if _, probs := Lint(filepath.Join(dir, "missing")); len(probs) != 1 {
		t.Fatalf("lint of a missing path must fail: %v", probs)
	}
}
