package knowledge

import (
	"testing"
	"unicode/utf8"
)

func TestNormalize(t *testing.T) {
	tests := []struct{ in, want string }{
		{"请问怎么退货？", "怎么退货"},
		{"你好，那个，咋退货啊", "怎么退货"},
		{"ＡＢＣ１２３", "abc123"},
		{"退貨運費誰出", "退货运费谁出"},
		{"发票!!!能开不", "发票 能开不"},
		{"可不可以发顺丰", "能发顺丰"},
		{"有没有 人工", "有 人工"},
		{"啥时候发货呢", "什么时候发货"},
		{"亲，包邮吗", "包邮"},
		{"  ", ""},
		{"请问？", ""},
	}
	for _, tt := range tests {
		if got := Normalize(tt.in); got != tt.want {
			t.Errorf("Normalize(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestTokenizeWeights(t *testing.T) {
	ts := tokenize([]string{"怎么退货"}, false)
	w := map[string]float64{}
	for _, x := range ts {
		w[x.text] = x.weight
	}
	if w["退货"] != bigramWeight {
		t.Errorf("content bigram weight %v", w["退货"])
	}
	if w["怎么"] >= w["退货"] || w["么退"] >= w["退货"] {
		t.Errorf("question-form terms weigh as much as content: %v", w)
	}
	skip := tokenize([]string{"退个货"}, true)
	found := false
	for _, x := range skip {
		found = found || x.text == "退货"
	}
	if !found {
		t.Errorf("skip-bigram 退货 missing from %v", skip)
	}
}

func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"请问怎么退货？", "ＡＢＣ", "退貨", "\xff\xfe", "吗吗吗"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := Normalize(s)
		if !utf8.ValidString(n) && utf8.ValidString(s) {
			t.Fatalf("Normalize(%q) = invalid UTF-8 %q", s, n)
		}
		tokenize(normalizedParts(s), true)
	})
}
