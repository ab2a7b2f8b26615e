package handoff_test

import (
	"context"
	"sync"
	"testing"
	"time"
)

// On chat apps the router merges a burst of short customer messages into
// one turn. An agent typing several lines quickly must not lose any of
// them, nor wait for the merge window: every line reaches the customer, as
// its own message, in order.
func TestAgentBurstIsNotMerged(t *testing.T) {
	e := setup(t, options{mergeWindow: 300 * time.Millisecond})
	e.agent("alice-wx", "/online")
	e.customer("u1", "人工")
	e.waitFor(e.wecom, "alice-wx", "【新客户】")
	lines := []string{"您好", "我看一下您的订单", "请稍等"}
	var wg sync.WaitGroup
	for i, l := range lines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(time.Duration(i) * 20 * time.Millisecond)
			e.agent("alice-wx", l)
		}()
	}
	wg.Wait()
	for _, l := range lines {
		e.waitFor(e.shop, "u1", l)
	}
	e.settle()
	for _, m := range sentTo(e.shop, "u1") {
		if m.Text == "您好\n我看一下您的订单\n请稍等" {
			t.Fatal("the agent's lines were merged")
		}
	}
	// A customer's rating is not merged away either.
	e.agent("alice-wx", "/end")
	e.waitFor(e.shop, "u1", "请为本次服务打分")
	e.customer("u1", "5")
	e.waitFor(e.shop, "u1", "感谢您的评价（5 分）")
	if rs, _ := e.svc.Ratings(context.Background()); rs[0].Count != 1 {
		t.Fatalf("ratings = %+v", rs[0])
	}
}
