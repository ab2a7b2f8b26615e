package message

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSplitText(t *testing.T) {
	cases := []struct {
		name string
		in   string
		max  int
		want []string
	}{
		{"fits", "你好", 2048, []string{"你好"}},
		{"no limit", strings.Repeat("a", 5000), 0, []string{strings.Repeat("a", 5000)}},
		{"empty", "", 10, nil},
		{"never inside a rune", "一二三四五", 7, []string{"一二", "三四", "五"}},
		{"prefers a line break", "第一行内容很长\n第二行", 24, []string{"第一行内容很长\n", "第二行"}},
		{"prefers a sentence end", "我们已经收到您的问题。请稍等", 36, []string{"我们已经收到您的问题。", "请稍等"}},
		{"a sentence end too early is ignored", "好的。我们马上处理您的问题", 30, []string{"好的。我们马上处理您", "的问题"}},
	}
	for _, tc := range cases {
		got := SplitText(tc.in, tc.max)
		if strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("%s: SplitText(%q, %d) = %q, want %q", tc.name, tc.in, tc.max, got, tc.want)
		}
	}
}

// WeChat and WeCom cut text at 2048 bytes; every part must fit, be valid
// UTF-8, and together keep every character.
func TestSplitAt2048KeepsEverything(t *testing.T) {
	in := strings.Repeat("退货政策：签收后7天内可申请无理由退货。\n", 300)
	parts := SplitText(in, 2048)
	if len(parts) < 2 {
		t.Fatalf("expected several parts, got %d", len(parts))
	}
	var joined strings.Builder
	for _, p := range parts {
		if len(p) > 2048 || !utf8.ValidString(p) {
			t.Fatalf("part of %d bytes, valid %v", len(p), utf8.ValidString(p))
		}
		joined.WriteString(p)
	}
	if strip(joined.String()) != strip(in) {
		t.Fatal("characters lost in splitting")
	}
}

func strip(s string) string { return strings.NewReplacer(" ", "", "\n", "").Replace(s) }

func TestRenderChoices(t *testing.T) {
	got := RenderChoices("请选择：", []Choice{{Title: "查订单"}, {Title: "退货"}})
	if got != "请选择：\n1. 查订单\n2. 退货" {
		t.Errorf("got %q", got)
	}
	if RenderChoices("x", nil) != "x" {
		t.Error("no choices must leave the text alone")
	}
}

func FuzzSplitText(f *testing.F) {
	f.Add("你好，世界。Hello world!\n第二行", 7)
	f.Add(strings.Repeat("🙂", 100), 5)
	f.Add("\xff\xfe broken utf8", 3)
	f.Fuzz(func(t *testing.T, s string, max int) {
		if max > 5000 || max < -1 {
			return
		}
		parts := SplitText(s, max)
		limit := max
		if limit > 0 && limit < utf8.UTFMax {
			limit = utf8.UTFMax
		}
		var joined strings.Builder
		for _, p := range parts {
			if p == "" {
				t.Fatal("empty part")
			}
			if limit > 0 && len(p) > limit {
				t.Fatalf("part of %d bytes over %d", len(p), limit)
			}
			if utf8.ValidString(s) && !utf8.ValidString(p) {
				t.Fatalf("part %q is not valid UTF-8", p)
			}
			joined.WriteString(p)
		}
		if strip(joined.String()) != strip(s) {
			t.Fatalf("content changed: %q -> %q", s, parts)
		}
	})
}
