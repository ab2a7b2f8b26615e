package router_test

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kefu-gateway/kefu/adapters/message"
	"github.com/kefu-gateway/kefu/router"
)

// Three short lines typed one after another get one answer to all of them,
// not three answers beside the point.
func TestBurstIsAnsweredOnce(t *testing.T) {
	e := setup(t, "burst", "passive_budget: 3s, merge_window: 300ms")
	var mu sync.Mutex
	var got [][]message.Message
	var wg sync.WaitGroup
	for i, text := range []string{"在吗", "我想问下", "退货怎么弄"} {
		turn := e.accept(t, e.msg("b"+string(rune('1'+i)), text))
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, _ := turn.TakePassive(context.Background(), 3*time.Second)
			mu.Lock()
			got = append(got, r)
			mu.Unlock()
		}()
		time.Sleep(100 * time.Millisecond)
	}
	wg.Wait()
	var replies []string
	for _, r := range got {
		for _, m := range r {
			replies = append(replies, m.Text)
		}
	}
	if len(replies) != 1 || replies[0] != "退货请在订单页申请" {
		t.Fatalf("replies to the burst = %q, want one answer to the return question", replies)
	}
	order := texts(e.transcript(t))
	if strings.Join(order, "|") != "在吗|我想问下|退货怎么弄|退货请在订单页申请" {
		t.Fatalf("transcript = %q, want the three lines in order, then the answer", order)
	}
	// A message after the window is a turn of its own.
	time.Sleep(400 * time.Millisecond)
	r, _ := e.accept(t, e.msg("b4", "hi")).TakePassive(context.Background(), 3*time.Second)
	if len(r) != 1 || r[0].Text != "hello there" {
		t.Fatalf("after the burst: %+v", r)
	}
	// Retries of a burst message are still duplicates.
	if turn := e.accept(t, e.msg("b2", "我想问下")); !turn.Duplicate() {
		t.Error("a retried burst message was not recognised as a duplicate")
	}
}

// The burst's earlier lines count: the question in the first line is
// answered though the last says only 在吗, and so it is when the lines
// reach two kefu processes in turn (a load balancer), since the burst is
// kept in Redis.
func TestBurstAnswersItsEarlierLines(t *testing.T) {
	const caps = "passive_budget: 3s, merge_window: 600ms"
	for _, tc := range []struct {
		name      string
		processes int
	}{
		{"one process", 1},
		{"two processes", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := setup(t, "burstfirst"+strconv.Itoa(tc.processes), caps)
			routers := []*router.Router{e.r}
			if tc.processes == 2 {
				routers = append(routers, e.secondProcess(t, caps))
			}
			var mu sync.Mutex
			var replies []string
			var wg sync.WaitGroup
			for i, text := range []string{"退货怎么弄", "我想问下", "在吗"} {
				turn, err := routers[i%len(routers)].Accept(context.Background(), e.msg("f"+strconv.Itoa(i), text))
				if err != nil {
					t.Fatal(err)
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					r, _ := turn.TakePassive(context.Background(), 3*time.Second)
					mu.Lock()
					defer mu.Unlock()
					for _, m := range r {
						replies = append(replies, m.Text)
					}
				}()
				time.Sleep(100 * time.Millisecond)
			}
			wg.Wait()
			if len(replies) != 1 || replies[0] != "退货请在订单页申请" {
				t.Fatalf("replies to the burst = %q, want one answer to its first line's question", replies)
			}
		})
	}
}
