package flows

import (
	"math"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParseFlowFile feeds arbitrary bytes to the flow parser and compiler:
// they must report problems, never panic.
func FuzzParseFlowFile(f *testing.F) {
	f.Add([]byte(askFlow))
	f.Add([]byte("flows:\n  - id: f\n    steps:\n      - if: a\n        then: [{goto: x}]\n"))
	f.Add([]byte("flows: [{id: x, steps: [end, handoff, {http: {url: 'http://a/{{slots.b'}}}]}]"))
	f.Add([]byte("- - - :"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var probs Problems
		r := reporter{file: "fuzz.yaml", probs: &probs}
		flows := r.parseFile(data)
		for _, fl := range flows {
			r.compileFlow(fl)
		}
		set := newSet(flows, nil)
		checkSet(set, &probs)
		if len(probs.Errors()) == 0 {
			e := NewEngine(set)
			for _, fl := range set.Flows {
				for _, k := range fl.Triggers.Keywords {
					e.Step(State{}, Input{Kind: InputText, Text: k})
				}
			}
		}
	})
}

// FuzzNormalize checks Normalize is idempotent and keeps valid UTF-8.
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"你好！", " Hi ", "ＨＥＬＬＯ", "a\u3000b", "!?", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := Normalize(s)
		if utf8.ValidString(s) && !utf8.ValidString(n) {
			t.Fatalf("Normalize(%q) = %q is not valid UTF-8", s, n)
		}
		if utf8.ValidString(s) && Normalize(n) != n {
			t.Fatalf("not idempotent: %q -> %q -> %q", s, n, Normalize(n))
		}
	})
}

// FuzzTemplate parses arbitrary template text; a template that parses must
// render without panicking.
func FuzzTemplate(f *testing.F) {
	f.Add("hi {{slots.a}} {{contact.name}}")
	f.Add("{{ {{ }}")
	f.Add("{{len(slots)}}")
	f.Fuzz(func(t *testing.T, s string) {
		tp, err := parseTemplate(s, 1)
		if err != nil {
			return
		}
		_, _ = tp.render(&exprEnv{Slots: map[string]any{"a": 1.0}, Contact: map[string]any{}, Input: map[string]any{}, HTTP: map[string]any{}})
	})
}

// FuzzAnswerParsers runs the answer parsers on arbitrary text.
func FuzzAnswerParsers(f *testing.F) {
	for _, s := range []string{"2024年5月1日", "明天", "+86 138-0013-8000", "1,299.5", "NaN", "infinity"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if d, ok := parseDate(s, t0); ok && len(d) != 10 {
			t.Fatalf("parseDate(%q) = %q", s, d)
		}
		if p, ok := parsePhone(s); ok && len(p) != 11 {
			t.Fatalf("parsePhone(%q) = %q", s, p)
		}
		if n, ok := parseNumber(s); ok && (math.IsNaN(n) || math.IsInf(n, 0)) {
			t.Fatalf("parseNumber(%q) = %v", s, n)
		}
	})
}

// FuzzAutomaton compares the Aho–Corasick matcher with strings.Contains.
func FuzzAutomaton(f *testing.F) {
	f.Add("he,she,his,hers", "ushers")
	f.Add("订单,快递,快递到哪", "我的快递到哪了")
	f.Add("a,aa,aaa", "aaaa")
	f.Fuzz(func(t *testing.T, pats, text string) {
		seen := map[string]bool{}
		var patterns []string
		for _, p := range strings.Split(pats, ",") {
			if p != "" && !seen[p] {
				seen[p] = true
				patterns = append(patterns, p)
			}
		}
		a := newAutomaton(patterns)
		found := make([]bool, len(patterns))
		a.each(text, func(i int) { found[i] = true })
		for i, p := range patterns {
			if found[i] != strings.Contains(text, p) {
				t.Fatalf("pattern %q in %q: automaton %v, strings.Contains %v", p, text, found[i], !found[i])
			}
		}
	})
}
