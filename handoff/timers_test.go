package handoff_test

import (
	"context"
	"testing"
	"time"

	"github.com/kefu-gateway/kefu/handoff"
)

// Nobody takes the conversation within queue_timeout: the customer is told
// so and offered to leave a message; leaving none, they are back with the
// bot when the leave-message window ends.
func TestQueueTimeoutThenMessageWindowEnds(t *testing.T) {
	e := setup(t, options{handoff: `
agent_channel: fake
queue_timeout: 200ms
leave_message: { timeout: 300ms }
agents:
  - { id: alice, name: Alice, wecom_user: alice-wx, wecom_app: WECOM }
`})
	e.customer("u1", "人工")
	e.waitFor(e.shop, "u1", "排在第 1 位")
	e.waitFor(e.shop, "u1", "客服都在忙")
	e.waitFor(e.shop, "u1", "您可以直接发送留言")
	if o := e.owner("u1"); o != "message:default" {
		t.Fatalf("owner after the timeout = %q", o)
	}
	if w, _ := e.svc.Waiting(context.Background(), ""); len(w) != 0 {
		t.Fatalf("still queued: %+v", w)
	}
	deadline := time.Now().Add(5 * time.Second)
	for e.owner("u1") != "" && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if e.detail("u1").Status != handoff.StatusClosed || e.owner("u1") != "" {
		t.Fatalf("after the message window: %+v, owner %q", e.detail("u1").Record, e.owner("u1"))
	}
	e.customer("u1", "hi")
	e.waitFor(e.shop, "u1", "hello there")
}

// A waiting customer can leave the queue; those behind move up and are
// told their new place.
func TestCustomerLeavesQueue(t *testing.T) {
	e := setup(t, options{})
	for _, u := range []string{"u1", "u2", "u3"} {
		e.askHuman(u)
	}
	e.waitFor(e.shop, "u3", "排在第 3 位")
	e.customer("u1", "退出排队")
	e.waitFor(e.shop, "u1", "已退出排队")
	e.waitFor(e.shop, "u2", "排在第 1 位")
	e.waitFor(e.shop, "u3", "排在第 2 位")
	if o := e.owner("u1"); o != "" {
		t.Fatalf("owner after leaving = %q", o)
	}
	if d := e.detail("u1"); d.Status != handoff.StatusAbandoned {
		t.Fatalf("status = %s", d.Status)
	}
	e.customer("u1", "hi")
	e.waitFor(e.shop, "u1", "hello there")
	// A waiting customer writing something else hears their place.
	e.customer("u3", "还要等多久")
	e.waitCount(e.shop, "u3", "排在第 2 位", 2)
}

// A quiet conversation: the agent is reminded, then it ends by itself
// (the customer went quiet after the agent's answer).
func TestIdleReminderThenAutoResolve(t *testing.T) {
	e := setup(t, options{handoff: `
agent_channel: fake
idle_reminder: 300ms
idle_resolve: 2500ms
agents:
  - { id: alice, name: Alice, wecom_user: alice-wx, wecom_app: WECOM }
`})
	e.agent("alice-wx", "/online")
	e.customer("u1", "人工")
	e.waitFor(e.wecom, "alice-wx", "【新客户】")
	e.agent("alice-wx", "已为您处理好了")
	e.waitFor(e.wecom, "alice-wx", "客户暂未回复")
	e.waitFor(e.shop, "u1", "由于长时间没有收到您的消息")
	e.waitFor(e.wecom, "alice-wx", "已自动结束")
	if o := e.owner("u1"); o != "" {
		t.Fatalf("owner after auto-resolve = %q", o)
	}
	if countWith(e.shop, "u1", "请为本次服务打分") != 0 {
		t.Error("asked a customer who went quiet for a rating")
	}
	agents, _ := e.svc.Agents(context.Background())
	if agents[0].Load != 0 {
		t.Fatalf("load after auto-resolve = %d", agents[0].Load)
	}
}

// The customer waits for an agent whose presence expired: the
// conversation goes back to the queue and another agent takes it.
func TestCustomerWaitingOnAbsentAgentIsRequeued(t *testing.T) {
	e := setup(t, options{handoff: `
agent_channel: fake
idle_reminder: 300ms
idle_resolve: 5s
presence_ttl: 200ms
agents:
  - { id: alice, name: Alice, wecom_user: alice-wx, wecom_app: WECOM }
  - { id: bob, name: Bob, wecom_user: bob-wx, wecom_app: WECOM }
`})
	e.agent("alice-wx", "/online")
	e.customer("u1", "人工")
	e.waitFor(e.wecom, "alice-wx", "【新客户】")
	// Alice says nothing and her presence lapses.
	e.waitFor(e.wecom, "alice-wx", "您已离线，客户 顾客u1 已转回队列")
	e.waitFor(e.shop, "u1", "正在为您转接其他客服")
	e.agent("bob-wx", "/online")
	e.waitFor(e.wecom, "bob-wx", "【新客户】顾客u1")
	e.waitFor(e.shop, "u1", "客服Bob为您服务")
	if o := e.owner("u1"); o != "agent:bob" {
		t.Fatalf("owner = %q", o)
	}
}

// An owner left behind with no handoff under way (a crash between ending
// a handoff and clearing the owner) does not trap the customer.
func TestStaleOwnerIsRepaired(t *testing.T) {
	e := setup(t, options{})
	e.customer("u1", "hi")
	e.waitFor(e.shop, "u1", "hello there")
	if err := e.db.Client.HSet(context.Background(), e.keys.Conversation(e.conv("u1")), "o", "agent:alice").Err(); err != nil {
		t.Fatal(err)
	}
	e.customer("u1", "在吗")
	e.waitFor(e.shop, "u1", "请重新发送您的问题")
	e.customer("u1", "hi")
	e.waitCount(e.shop, "u1", "hello there", 2)
	// Someone else's owner is left alone.
	e.db.Client.HSet(context.Background(), e.keys.Conversation(e.conv("u1")), "o", "campaign:x")
	e.customer("u1", "hi")
	e.settle()
	if o := e.owner("u1"); o != "campaign:x" {
		t.Fatalf("owner = %q", o)
	}
}
