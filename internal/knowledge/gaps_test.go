package knowledge

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

func TestGaps(t *testing.T) {
	client, prefix := testRedis(t)
	ctx := context.Background()
	g := NewGaps(client, GapConfig{Prefix: prefix + "gaps", Samples: 2})
	for _, q := range []string{"请问能寄到国外吗？", "能寄到国外吗", "你好，能寄到国外吗", "有学生优惠吗", "", "请问？"} {
		if err := g.Record(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if err := g.Record(ctx, "订单13812345678为什么还没到"); err != nil {
		t.Fatal(err)
	}
	top, err := g.Top(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(top) != 3 {
		t.Fatalf("got %d entries: %+v", len(top), top)
	}
	if top[0].Question != "能寄到国外" || top[0].Count != 3 {
		t.Errorf("top entry %+v, want 能寄到国外 ×3", top[0])
	}
	if len(top[0].Samples) != 2 || top[0].Samples[0] != "你好，能寄到国外吗" {
		t.Errorf("samples %q, want the 2 newest originals", top[0].Samples)
	}
	for _, e := range top {
		if strings.Contains(e.Question+strings.Join(e.Samples, ""), "13812345678") {
			t.Errorf("phone number stored in %+v", e)
		}
	}
	if err := g.Forget(ctx, "能寄到国外"); err != nil {
		t.Fatal(err)
	}
	top, _ = g.Top(ctx, 10)
	if len(top) != 2 {
		t.Errorf("after Forget: %+v", top)
	}
}

func TestGapsCap(t *testing.T) {
	client, prefix := testRedis(t)
	ctx := context.Background()
	g := NewGaps(client, GapConfig{Prefix: prefix + "gaps", MaxEntries: 3})
	for i := 0; i < 3; i++ {
		g.Record(ctx, "常见问题")
	}
	for i := 0; i < 6; i++ {
		if err := g.Record(ctx, fmt.Sprintf("问题%c", 'a'+i)); err != nil {
			t.Fatal(err)
		}
	}
	n, _ := client.ZCard(ctx, prefix+"gaps:rank").Result()
	if n != 3 {
		t.Fatalf("ranked list holds %d entries, want the cap 3", n)
	}
	top, _ := g.Top(ctx, 1)
	if top[0].Question != "常见问题" {
		t.Errorf("the most asked entry was dropped: %+v", top)
	}
}
