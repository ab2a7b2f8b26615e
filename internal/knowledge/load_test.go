package knowledge

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestLoadDemoKnowledgeBase(t *testing.T) {
	b, err := LoadDir("../../configs/knowledge")
	if err != nil {
		t.Fatalf("demo knowledge base: %v", err)
	}
	if len(b.FAQs) < 20 || len(b.FAQs) > 30 {
		t.Errorf("demo has %d FAQs, want 20-30", len(b.FAQs))
	}
	if len(b.Passages) < 5 {
		t.Errorf("demo has %d passages, want the .md documents split at headings", len(b.Passages))
	}
	tagged := false
	for _, f := range b.FAQs {
		if len(f.Similar) == 0 {
			t.Errorf("faq %s has no similar list", f.ID)
		}
		if f.ID == "return-policy" {
			tagged = len(f.Tags) == 1 && f.Tags[0] == "售后"
		}
	}
	if !tagged {
		t.Error("faq return-policy is missing or its tags are not [售后]")
	}
}

func TestLoadProblems(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  []string // "file:line: fragment"
	}{
		{"yaml syntax", map[string]string{"a.yaml": "faqs:\n  - id: x\n    question: [unclosed\n"},
			[]string{"a.yaml:2: did not find expected"}},
		{"missing fields", map[string]string{"a.yaml": "faqs:\n  - id: x\n    question: 问\n  - question: 问二\n    answer: 答\n"},
			[]string{`a.yaml:2: faq "x" is missing an answer`, "a.yaml:4: faq is missing an id"}},
		{"unknown key", map[string]string{"a.yaml": "faqs:\n  - id: x\n    question: 问\n    answr: 答\n"},
			[]string{`a.yaml:4: unknown faq key "answr"`}},
		{"similar not a list", map[string]string{"a.yaml": "faqs:\n  - id: x\n    question: 问\n    answer: 答\n    similar: 一个\n"},
			[]string{"a.yaml:5: similar must be a list of strings"}},
		{"duplicate across files", map[string]string{
			"a.yaml": "faqs:\n  - id: x\n    question: 问\n    answer: 答\n",
			"b.yaml": "faqs:\n\n  - id: x\n    question: 问\n    answer: 答\n"},
			[]string{`b.yaml:3: duplicate faq id "x" (first defined at `}},
		{"top level not faqs", map[string]string{"a.yaml": "questions: []\n"},
			[]string{`a.yaml:1: unknown key "questions"`}},
		{"faqs not a list", map[string]string{"a.yaml": "faqs: hello\n"},
			[]string{`a.yaml:1: "faqs" must be a list`}},
		{"question of filler only", map[string]string{"a.yaml": "faqs:\n  - id: x\n    question: 请问？\n    answer: 答\n"},
			[]string{`a.yaml:2: faq "x": question has no words to match on`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeFiles(t, tt.files)
			_, err := LoadDir(dir)
			var probs Problems
			if !errors.As(err, &probs) {
				t.Fatalf("got %v, want Problems", err)
			}
			text := strings.ReplaceAll(err.Error(), dir+string(filepath.Separator), "")
			for _, w := range tt.want {
				if !strings.Contains(text, w) {
					t.Errorf("problems\n%s\nlack %q", text, w)
				}
			}
		})
	}
}

func TestLoadEmptyAndMissing(t *testing.T) {
	b, err := LoadDir(filepath.Join(t.TempDir(), "absent"))
	if err != nil || len(b.FAQs) != 0 {
		t.Fatalf("missing dir: %v, %d faqs", err, len(b.FAQs))
	}
	dir := writeFiles(t, map[string]string{"empty.yaml": "", "null.yaml": "faqs:\n"})
	if _, err := LoadDir(dir); err != nil {
		t.Fatalf("empty files: %v", err)
	}
	if got := b.Search("退货", 3); len(got) != 0 {
		t.Fatalf("empty base found %v", got)
	}
}

func TestSplitMarkdown(t *testing.T) {
	doc := "intro line\n\n# 售后\n\n## 退货\n七天无理由。\n\n```\n# not a heading\n```\n\n### 运费\n质量问题我们出。\n## 换货 ##\n换尺码。\n"
	ps := splitMarkdown("kb/after.md", []byte(doc))
	want := []struct{ title, text string }{
		{"after", "intro line"},
		{"售后 > 退货", "七天无理由。\n\n```\n# not a heading\n```"},
		{"售后 > 退货 > 运费", "质量问题我们出。"},
		{"售后 > 换货", "换尺码。"},
	}
	if len(ps) != len(want) {
		t.Fatalf("got %d passages: %+v", len(ps), ps)
	}
	for i, w := range want {
		if ps[i].Title != w.title || ps[i].Text != w.text {
			t.Errorf("passage %d = %q / %q, want %q / %q", i, ps[i].Title, ps[i].Text, w.title, w.text)
		}
	}
	if ps[1].Line != 6 || ps[1].ID != "after.md#2" {
		t.Errorf("passage 2 at line %d id %s, want line 6 id after.md#2", ps[1].Line, ps[1].ID)
	}
}

func TestSplitMarkdownLongSection(t *testing.T) {
	para := strings.Repeat("这是一段很长的说明文字。", 30) // 360 runes
	doc := "# 长文\n" + para + "\n\n" + para + "\n\n" + para + "\n"
	ps := splitMarkdown("long.md", []byte(doc))
	if len(ps) < 2 {
		t.Fatalf("a %d-rune section stayed one passage", 3*len([]rune(para)))
	}
	for _, p := range ps {
		if n := len([]rune(p.Text)); n > maxPassageRunes {
			t.Errorf("passage of %d runes exceeds %d", n, maxPassageRunes)
		}
	}
}

func FuzzParseFAQFile(f *testing.F) {
	f.Add([]byte("faqs:\n  - id: a\n    question: 怎么退货\n    answer: 七天\n    similar: [退货]\n"))
	f.Add([]byte("faqs: [1, {id: [x]}]"))
	f.Add([]byte("- a\n- b"))
	f.Fuzz(func(t *testing.T, data []byte) {
		faqs, probs := parseFAQFile("f.yaml", data)
		for _, p := range probs {
			if p.Line < 1 {
				t.Fatalf("problem without a line: %v", p)
			}
		}
		if len(probs) == 0 {
			NewBase(faqs, nil).Search("退货", 3)
		}
	})
}

func FuzzSplitMarkdown(f *testing.F) {
	f.Add([]byte("# a\nb\n## c\n```\n# d\n```\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, p := range splitMarkdown("f.md", data) {
			if strings.TrimSpace(p.Text) == "" {
				t.Fatalf("empty passage %+v", p)
			}
		}
	})
}
