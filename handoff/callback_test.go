package handoff_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/hibiken/asynq"
	"github.com/kefu-gateway/kefu/adapters"
	"github.com/kefu-gateway/kefu/adapters/message"
	"github.com/kefu-gateway/kefu/handoff"
	"github.com/kefu-gateway/kefu/internal/clock"
	"github.com/kefu-gateway/kefu/workers"
)

// closedSupportOneEach is closedSupport with both agents serving it, one
// customer at a time.
const closedSupportOneEach = closedSupportQueue + `
agents:
  - { id: alice, name: Alice, wecom_user: alice-wx, wecom_app: WECOM, skills: [support], max_concurrent: 1 }
  - { id: bob, name: Bob, wecom_user: bob-wx, wecom_app: WECOM, skills: [support], max_concurrent: 1 }
`

// "客服会尽快联系您" is kept: 回访 N makes the N-th customer of the list
// the agent was shown theirs, on a Saturday when the queue is closed, and
// the customer hears who answers their message.
func TestCallBackAnswersALeftMessage(t *testing.T) {
	e := setup(t, options{clock: clock.NewFake(saturday), handoff: closedSupport})
	e.leave("u1", "请周一给我回电")
	e.leave("u2", "发票抬头写错了")
	e.agent("alice-wx", "/online")
	n := e.waitFor(e.wecom, "alice-wx", "您有 2 条客户留言")
	if !strings.Contains(n.Text, "回访 N") {
		t.Errorf("the notice does not say how to call back:\n%s", n.Text)
	}

	e.agent("alice-wx", "回访 2")
	e.waitFor(e.shop, "u2", "我是客服Alice，看到了您的留言")
	notice := e.waitFor(e.wecom, "alice-wx", "【回访】顾客u2")
	if !strings.Contains(notice.Text, "发票抬头写错了") || strings.Contains(notice.Text, "等待") {
		t.Errorf("the agent's notice should show the message left and no queue wait:\n%s", notice.Text)
	}
	if d := e.detail("u2"); d.Status != handoff.StatusAssigned || d.Agent != "alice" || d.Reason != handoff.ReasonCallBack {
		t.Fatalf("u2's handoff = %s %s %q, want assigned to alice for a call back", d.Status, d.Agent, d.Reason)
	}
	if o := e.owner("u2"); o != handoff.OwnerAgentPrefix+"alice" {
		t.Fatalf("u2's owner = %q", o)
	}
	e.agent("alice-wx", "您好，发票抬头改成什么？")
	e.waitFor(e.shop, "u2", "发票抬头改成什么")
	e.settle()
	if c := countWith(e.shop, "u1", "客服Alice"); c != 0 {
		t.Fatalf("u1, who was not called back, heard from Alice %d times", c)
	}

	// A number past the list.
	e.agent("alice-wx", "回访 7")
	e.waitFor(e.wecom, "alice-wx", "没有第 7 条留言")

	// /messages numbers its own list, which 回访 then follows.
	e.leave("u3", "换货地址改一下")
	e.agent("alice-wx", "查看留言")
	list := e.waitFor(e.wecom, "alice-wx", "最近 3 条客户留言")
	if !strings.Contains(list.Text, "3. ") || !strings.Contains(list.Text, "换货地址") {
		t.Fatalf("list:\n%s", list.Text)
	}
	// It shows whom an agent called back already.
	markedLines := 0
	for _, line := range strings.Split(list.Text, "\n") {
		marked := strings.Contains(line, "（已由 Alice 回访）")
		if strings.Contains(line, "发票抬头写错了") != marked {
			t.Errorf("only u2's message should be marked called back:\n%s", list.Text)
		}
		if marked {
			markedLines++
		}
	}
	if markedLines != 1 {
		t.Errorf("%d lines marked called back, want u2's:\n%s", markedLines, list.Text)
	}
	e.agent("alice-wx", "回访 3")
	e.waitFor(e.shop, "u3", "我是客服Alice，看到了您的留言")

	// Calling back a customer she already serves makes them current.
	cur := func() string {
		return e.db.Client.HGet(context.Background(), e.keys.Prefix+"{ho}:a:alice", "cur").Val()
	}
	if c := cur(); c != e.conv("u3") {
		t.Fatalf("current = %q after calling back u3", c)
	}
	e.agent("alice-wx", "/callback 2")
	e.waitFor(e.wecom, "alice-wx", "您正在接待客户 顾客u2")
	if c := cur(); c != e.conv("u2") {
		t.Fatalf("current = %q after calling back u2 again, want u2's conversation", c)
	}

	// The operator API says so too.
	app := fiber.New()
	e.svc.MountAdmin(app.Group("/admin/api"))
	resp, err := app.Test(httptest.NewRequest("GET", "/admin/api/handoff/messages", nil), 5000)
	if err != nil {
		t.Fatal(err)
	}
	var left []handoff.LeftMessage
	if err := json.NewDecoder(resp.Body).Decode(&left); err != nil {
		t.Fatal(err)
	}
	by := map[string]string{}
	for _, m := range left {
		by[m.CustomerID] = m.CalledBackBy
	}
	if len(left) != 3 || by["u1"] != "" || by["u2"] != "alice" || by["u3"] != "alice" {
		t.Fatalf("called back by = %v over %d messages", by, len(left))
	}
}

// A called-back customer given back to the queue reaches the next agent as
// a new customer: 【回访】 is the calling agent's notice only.
func TestCallBackRequeuedIsNewToTheNextAgent(t *testing.T) {
	fake := clock.NewFake(saturday)
	e := setup(t, options{clock: fake, handoff: closedSupportOneEach})
	e.leave("u1", "发票抬头写错了")
	e.agent("alice-wx", "查看留言")
	e.agent("alice-wx", "回访 1")
	e.waitFor(e.wecom, "alice-wx", "【回访】顾客u1")
	fake.Advance(47 * time.Hour) // Monday 10:00: the queue opens
	e.agent("bob-wx", "/online")
	e.agent("alice-wx", "/transfer support")
	n := e.waitFor(e.wecom, "bob-wx", "顾客u1 · ")
	if !strings.HasPrefix(n.Text, "【新客户】顾客u1") {
		t.Fatalf("bob's notice for a customer alice called back and gave back to the queue:\n%s", n.Text)
	}
	if d := e.detail("u1"); d.Status != handoff.StatusAssigned || d.Agent != "bob" {
		t.Fatalf("u1's handoff = %s %s, want assigned to bob", d.Status, d.Agent)
	}
}

// A call back never takes a customer another agent serves, never exceeds
// the agent's max_concurrent, and never writes to a customer whose window
// closed; each refusal says why and changes nothing.
func TestCallBackRefusals(t *testing.T) {
	e := setup(t, options{clock: clock.NewFake(saturday), handoff: closedSupportOneEach})
	e.leave("u1", "快递一直没到")
	e.leave("u2", "退款什么时候到账")
	e.agent("alice-wx", "/online")
	e.agent("bob-wx", "/online")
	e.waitFor(e.wecom, "alice-wx", "您有 2 条客户留言")
	e.waitFor(e.wecom, "bob-wx", "您有 2 条客户留言")

	e.agent("alice-wx", "回访 1")
	e.waitFor(e.shop, "u1", "我是客服Alice")
	e.agent("bob-wx", "回访 1")
	e.waitFor(e.wecom, "bob-wx", "客户 顾客u1 正由客服 Alice 接待")

	e.agent("alice-wx", "回访 2")
	e.waitFor(e.wecom, "alice-wx", "您的接待数已满（1/1）")
	if d := e.detail("u2"); d.Status.Active() {
		t.Fatalf("u2's handoff is %s after a refused call back", d.Status)
	}
	if o := e.owner("u2"); o != "" {
		t.Fatalf("u2's owner = %q after a refused call back; the bot must keep answering", o)
	}

	e.shop.SetWindow(func(c message.Party) adapters.Window {
		if c.ID == "u2" {
			return adapters.Window{Reason: "48 小时未互动"}
		}
		return adapters.Window{Open: true, Remaining: -1}
	})
	e.agent("bob-wx", "回访 2")
	e.waitFor(e.wecom, "bob-wx", "无法联系客户 顾客u2：消息窗口已关闭（48 小时未互动）")
	if o := e.owner("u2"); o != "" {
		t.Fatalf("u2's owner = %q after a call back the window refused", o)
	}
	load, err := e.db.Client.ZCard(context.Background(), e.keys.Prefix+"{ho}:ac:bob").Result()
	if err != nil || load != 0 {
		t.Fatalf("bob's load = %d, %v; want 0", load, err)
	}
}

// An agent in another process may call the customer back while the end of
// the customer's leave-message step gives them back to the bot: between the
// step's end and its clearing of the owner (the step then clears only its
// own owner), or, when the owner it set is gone (here a stale handoff owner
// stands in for it), between its reading of the record and its clearing of
// that owner. Either way the agent keeps the customer (before, the bot took
// them back while the agent served them) and the customer is not told that
// the bot goes on.
func TestCallBackWhileALeaveEnds(t *testing.T) {
	callBack := func(e *env) func(string) {
		return func(string) {
			if err := e.acceptErr(e.agentMessage("alice-wx", "回访 1")); err != nil {
				e.t.Error(err)
			}
		}
	}
	for _, tc := range []struct {
		name string
		// hook installs what happens as the leave-message step ends.
		hook func(e *env)
	}{
		{"before the owner is cleared", func(e *env) {
			handoff.SetAfterLeft(e.svc, once(callBack(e)))
		}},
		{"after the record was read", func(e *env) {
			handoff.SetAfterLeft(e.svc, once(func(conv string) {
				if err := e.db.Client.HSet(context.Background(), e.keys.Conversation(conv), "o", handoff.OwnerQueuePrefix+"stale").Err(); err != nil {
					e.t.Error(err)
				}
			}))
			handoff.SetAfterOwnerRead(e.svc, once(callBack(e)))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := setup(t, options{clock: clock.NewFake(saturday), handoff: closedSupport})
			e.leave("u1", "请周一给我回电")
			e.agent("alice-wx", "/online")
			e.waitFor(e.wecom, "alice-wx", "您有 1 条客户留言")
			tc.hook(e)
			e.customer("u1", "人工")
			e.waitStatus("u1", handoff.StatusMessage)
			e.customer("u1", "再补充一句：地址是北京路 1 号")
			e.waitFor(e.shop, "u1", "我是客服Alice")
			e.settle()
			if c := countWith(e.shop, "u1", "已收到您的留言"); c != 1 {
				t.Errorf("u1 was told %d times that the bot goes on, want once (the first message); Alice serves them now", c)
			}
			if o := e.owner("u1"); o != handoff.OwnerAgentPrefix+"alice" {
				t.Fatalf("u1's owner = %q with alice serving them; want agent:alice", o)
			}
			if d := e.detail("u1"); d.Status != handoff.StatusAssigned || d.Agent != "alice" {
				t.Fatalf("u1's handoff = %s %s", d.Status, d.Agent)
			}
		})
	}
}

// once returns f run at most once (a hook that must not fire again when
// the call back it makes ends a step of its own).
func once(f func(string)) func(string) {
	var done atomic.Bool
	return func(conv string) {
		if done.CompareAndSwap(false, true) {
			f(conv)
		}
	}
}

// 回访 is not /online: an agent who went /offline answers the customer
// who left a message and still gets no queued customers.
func TestCallBackKeepsAnOfflineAgentOffline(t *testing.T) {
	e := setup(t, options{clock: clock.NewFake(saturday), handoff: closedSupport})
	e.leave("u1", "快递一直没到")
	e.agent("alice-wx", "查看留言")
	e.waitFor(e.wecom, "alice-wx", "最近 1 条客户留言")
	e.agent("alice-wx", "/offline")
	e.agent("alice-wx", "回访 1")
	e.waitFor(e.shop, "u1", "我是客服Alice")
	if a := e.agentState(t, "alice"); !a.Away || a.Load != 1 {
		t.Fatalf("alice after a call back while offline: %+v; want away with one conversation", a)
	}
}

// agentState is the agent's presence and load as GET /handoff/agents
// reports them.
func (e *env) agentState(t *testing.T, id string) handoff.AgentState {
	t.Helper()
	agents, err := e.svc.Agents(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range agents {
		if a.ID == id {
			return a
		}
	}
	t.Fatalf("agent %s is missing from the agents", id)
	return handoff.AgentState{}
}

// Numbers an agent saw keep their meaning: a notice continues them. Here
// the agent's presence lapsed, so their 回访 1 first brings them online and
// a notice of the message left meanwhile, which becomes number 2; number 1
// is still the customer they meant.
func TestCallBackNumbersHoldAcrossNotices(t *testing.T) {
	fake := clock.NewFake(saturday)
	e := setup(t, options{clock: fake, handoff: closedSupport})
	e.agent("alice-wx", "/online")
	e.leave("u1", "请周一给我回电")
	if n := e.waitFor(e.wecom, "alice-wx", "您有 1 条客户留言"); !strings.Contains(n.Text, "1. ") {
		t.Fatalf("first notice:\n%s", n.Text)
	}
	fake.Advance(31 * time.Minute) // past presence_ttl
	e.leave("u2", "发票抬头写错了")
	e.agent("alice-wx", "回访 1")
	e.waitFor(e.shop, "u1", "我是客服Alice")
	second := e.waitFor(e.wecom, "alice-wx", "发票抬头写错了")
	if !strings.Contains(second.Text, "2. ") || strings.Contains(second.Text, "1. ") {
		t.Fatalf("the notice that came with 回访 1 should number u2's message 2:\n%s", second.Text)
	}
	if countWith(e.shop, "u2", "客服Alice") != 0 {
		t.Fatal("u2 was called back instead of u1")
	}
}

// A customer who left a message and is now waiting in the queue is taken
// from it by the agent's 回访, like /accept but for that customer. The
// workers are stopped once the messages are left, so no assignment run
// hands the queued customers out meanwhile (nothing reaches anyone after
// that: the test reads the handoff state and the replies waiting to go).
// Full, the agent is told so, not that another agent took the customer.
func TestCallBackTakesAQueuedCustomer(t *testing.T) {
	fake := clock.NewFake(saturday)
	e := setup(t, options{clock: fake, handoff: closedSupportOneEach})
	e.leave("u1", "请周一给我回电")
	e.leave("u2", "发票抬头写错了")
	e.settle()
	e.srv.Shutdown()
	fake.Advance(47 * time.Hour) // Monday 10:00: open
	e.customer("u1", "人工")
	e.customer("u2", "人工")
	// A request is done when the customer was told their place (the
	// record's position, written last; not the live rank Detail adds):
	// only then is alice's coming online no longer seen by its immediate
	// assignment try.
	for _, u := range []string{"u1", "u2"} {
		deadline := time.Now().Add(5 * time.Second)
		for d := e.detail(u); d.Status != handoff.StatusQueued || d.Record.Position == 0; d = e.detail(u) {
			if time.Now().After(deadline) {
				t.Fatalf("%s's request never finished: %+v", u, d)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	e.agent("alice-wx", "查看留言") // numbers u1 1 and u2 2
	e.agent("alice-wx", "/offline")
	e.agent("alice-wx", "回访 2")
	if d := e.detail("u2"); d.Status != handoff.StatusAssigned || d.Agent != "alice" || d.Reason == handoff.ReasonCallBack {
		t.Fatalf("u2's handoff = %s %s %q, want assigned to alice for the customer's own request", d.Status, d.Agent, d.Reason)
	}
	// Taking a waiting customer is /accept, which puts the agent online.
	if a := e.agentState(t, "alice"); !a.Online || a.Away {
		t.Fatalf("alice after calling back a waiting customer from /offline: %+v; want online", a)
	}
	if d := e.detail("u1"); d.Status != handoff.StatusQueued {
		t.Fatalf("u1's handoff = %s, want still queued: %+v", d.Status, d)
	}
	e.agent("alice-wx", "回访 1")
	if d := e.detail("u1"); d.Status != handoff.StatusQueued {
		t.Fatalf("u1's handoff = %s after a call back by a full agent, want still queued", d.Status)
	}
	insp := asynq.NewInspectorFromRedisClient(e.db.Client)
	told := false
	for _, q := range []string{workers.QueueCritical, workers.QueueDefault, workers.QueueLow} {
		tasks, _ := insp.ListPendingTasks(q, asynq.PageSize(1000))
		for _, task := range tasks {
			told = told || strings.Contains(string(task.Payload), "您的接待数已满（1/1）")
		}
	}
	if !told {
		t.Fatal("alice, full, was not told so")
	}
}

// 回访 takes a number the agent was shown: without one, or with one they
// were not shown, they are told what to send, and nobody is called. Once a
// customer is called back, the other agents' lists say by whom.
func TestCallBackAsksForANumberItShowed(t *testing.T) {
	e := setup(t, options{clock: clock.NewFake(saturday), handoff: closedSupportOneEach})
	e.leave("u1", "快递一直没到")
	e.leave("u2", "退款什么时候到账")
	e.agent("alice-wx", "/online")
	e.waitFor(e.wecom, "alice-wx", "您有 2 条客户留言")
	for _, bad := range []string{"回访", "回访 abc", "/callback 0"} {
		before := countWith(e.wecom, "alice-wx", "请给出留言序号")
		e.agent("alice-wx", bad)
		e.waitCount(e.wecom, "alice-wx", "请给出留言序号", before+1)
	}
	e.agent("alice-wx", "回访 9")
	e.waitFor(e.wecom, "alice-wx", "没有第 9 条留言")
	for _, u := range []string{"u1", "u2"} {
		if o := e.owner(u); o != "" {
			t.Fatalf("%s's owner = %q after call backs that named nobody", u, o)
		}
	}

	e.agent("alice-wx", "回访 2")
	e.waitFor(e.shop, "u2", "我是客服Alice")
	e.agent("bob-wx", "查看留言")
	list := e.waitFor(e.wecom, "bob-wx", "最近 2 条客户留言")
	seen := 0
	for _, line := range strings.Split(list.Text, "\n") {
		marked := strings.Contains(line, "（已由 Alice 回访）")
		switch {
		case strings.Contains(line, "退款什么时候到账"):
			seen++
			if !marked {
				t.Errorf("u2's line does not say Alice called them back: %q", line)
			}
		case strings.Contains(line, "快递一直没到"):
			seen++
			if marked {
				t.Errorf("u1's line says they were called back: %q", line)
			}
		}
	}
	if seen != 2 {
		t.Errorf("the list shows %d of the two messages:\n%s", seen, list.Text)
	}
}
