package flows

import (
	"fmt"
	"strings"
	"testing"
)

// benchSet builds n flows of 5 keywords each: 3 exact, 2 contains.
func benchSet(tb testing.TB, n int) *Set {
	tb.Helper()
	var b strings.Builder
	b.WriteString("flows:\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "  - id: f%d\n    triggers:\n      keywords: [查询%d号, 订单%d, item%d]\n      contains: [问题%d类, topic-%d]\n    steps:\n      - say: reply %d\n", i, i, i, i, i, i, i)
	}
	return mustLoad(tb, b.String())
}

// BenchmarkMatch measures trigger matching for one message against 10, 100
// and 1000 flows. The index makes it nearly flat: exact keywords are one map
// look-up, contains keywords one Aho–Corasick pass over the message.
func BenchmarkMatch(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		set := benchSet(b, n)
		for _, msg := range []struct{ name, text string }{
			{"contains", "你好，我想咨询一下问题7类的事情，谢谢"},
			{"exact", "订单7"},
			{"miss", "今天天气怎么样，适合出门吗？"},
		} {
			b.Run(fmt.Sprintf("flows=%d/%s", n, msg.name), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					norm := Normalize(msg.text)
					hits := set.index.matchText(norm, &msg.text)
					if (msg.name == "miss") != (len(hits) == 0) {
						b.Fatalf("hits = %v", hits)
					}
				}
			})
		}
	}
}

// TestMatchAllocationsDoNotGrowWithFlows is the deterministic half of the
// flatness target: the work per message must not depend on the flow count.
func TestMatchAllocationsDoNotGrowWithFlows(t *testing.T) {
	text := "你好，我想咨询一下问题7类的事情，谢谢"
	allocs := func(n int) float64 {
		set := benchSet(t, n)
		return testing.AllocsPerRun(100, func() {
			if len(set.index.matchText(Normalize(text), &text)) != 1 {
				t.Fatal("no hit")
			}
		})
	}
	if a10, a1000 := allocs(10), allocs(1000); a1000 > a10 {
		t.Fatalf("allocations grow with flows: %v at 10, %v at 1000", a10, a1000)
	}
}

// BenchmarkStep measures one engine step: a greeting (trigger + say) and an
// answer to a waiting question (validate + store + next question + timers).
func BenchmarkStep(b *testing.B) {
	set := mustLoad(b, askFlow+`
  - id: greeting
    triggers: { keywords: [你好, hello, hi] }
    steps:
      - say: 您好！有什么可以帮您？
        choices: [查订单, 申请退货]
`)
	e := NewEngine(set)
	b.Run("greeting", func(b *testing.B) {
		b.ReportAllocs()
		in := Input{Kind: InputText, Text: "你好", Now: t0}
		for b.Loop() {
			if res := e.Step(State{}, in); !res.Handled {
				b.Fatal("not handled")
			}
		}
	})
	b.Run("answer", func(b *testing.B) {
		waiting := e.Step(State{}, Input{Kind: InputText, Text: "form", Now: t0}).State
		in := Input{Kind: InputText, Text: "first answer", Now: t0}
		b.ReportAllocs()
		for b.Loop() {
			if res := e.Step(waiting, in); !res.State.Waiting() {
				b.Fatal("not waiting for the second question")
			}
		}
	})
}
