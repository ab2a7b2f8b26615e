package llm

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
)

func TestStripMarkdown(t *testing.T) {
	tests := []struct{ in, want string }{
		{"## 退货说明\n**7天**无理由退货", "退货说明\n7天无理由退货"},
		{"* 第一步\n* 第二步", "- 第一步\n- 第二步"},
		{"详见[退货政策](https://shop.example/returns)。", "详见退货政策 (https://shop.example/returns)。"},
		{"![图](x.png)点击`我的订单`", "图点击我的订单"},
		{"> 温馨提示：*请*保留包装\n---\n谢谢", "温馨提示：请保留包装\n谢谢"},
		{"```\n# 不是标题\n```", "# 不是标题"},
		{"a_b_c 和 2*3*4", "a_b_c 和 2*3*4"},
		{"~~原价~~ 现价", "原价 现价"},
	}
	for _, tt := range tests {
		if got := StripMarkdown(tt.in); got != tt.want {
			t.Errorf("StripMarkdown(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestFitBytes(t *testing.T) {
	long := strings.Repeat("退货请在七天内申请。", 50)
	tests := []struct {
		in  string
		max int
	}{
		{"短", 10}, {long, 2048}, {long, 100}, {long, 5}, {long, 1}, {"abc", 0},
	}
	for _, tt := range tests {
		got := FitBytes(tt.in, tt.max)
		if len(got) > tt.max || !utf8.ValidString(got) {
			t.Errorf("FitBytes(%d bytes, %d) = %d bytes, valid %v", len(tt.in), tt.max, len(got), utf8.ValidString(got))
		}
		if len(tt.in) <= tt.max && got != tt.in {
			t.Errorf("fitting text changed")
		}
	}
	if got := FitBytes(long, 100); !strings.HasSuffix(got, "。"+Ellipsis) {
		t.Errorf("cut %q not at a sentence end", got)
	}
}

func FuzzFitBytes(f *testing.F) {
	f.Add("退货请在七天内申请。好的", 20)
	f.Fuzz(func(t *testing.T, s string, n int) {
		if n > 1<<16 || n < -10 {
			return
		}
		got := FitBytes(s, n)
		if n >= 0 && len(got) > n {
			t.Fatalf("FitBytes(%q, %d) = %q is %d bytes", s, n, got, len(got))
		}
		if utf8.ValidString(s) && !utf8.ValidString(got) {
			t.Fatalf("invalid UTF-8 %q", got)
		}
	})
}

func FuzzStripMarkdown(f *testing.F) {
	f.Add("# t\n**b** [l](u) `c`\n```\nx\n```")
	f.Fuzz(func(t *testing.T, s string) {
		StripMarkdown(s)
	})
}

func TestPrometheusMetrics(t *testing.T) {
	m := NewPrometheusMetrics("kefu")
	reg := prometheus.NewRegistry()
	reg.MustRegister(m)
	m.ObserveRequest("chat", "ok", 1500000000)
	m.AddTokens("chat", 100, 20)
	m.Fallback("no_answer")
	m.BreakerState(BreakerOpen)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, mf := range mfs {
		got[mf.GetName()] = true
		if mf.GetName() == "kefu_llm_breaker_state" {
			for _, mm := range mf.GetMetric() {
				if mm.GetLabel()[0].GetValue() == "open" && mm.GetGauge().GetValue() != 1 {
					t.Error("breaker_state{state=open} is not 1")
				}
			}
		}
	}
	for _, name := range []string{"kefu_llm_request_duration_seconds", "kefu_llm_tokens_total", "kefu_llm_fallbacks_total", "kefu_llm_breaker_state"} {
		if !got[name] {
			t.Errorf("metric %s missing", name)
		}
	}
}
