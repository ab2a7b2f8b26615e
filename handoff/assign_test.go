package handoff_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/kefu-gateway/kefu/internal/clock"
)

// Two agents with room for one conversation each, a third agent who went
// offline, three customers: two are served at once, the third waits at
// position 1 and is served as soon as an agent ends a conversation. The
// offline agent gets nothing.
func TestCapacityQueueAndOfflineAgents(t *testing.T) {
	e := setup(t, options{handoff: `
agent_channel: fake
position_interval: 0s
agents:
  - { id: alice, name: Alice, wecom_user: alice-wx, wecom_app: WECOM, max_concurrent: 1 }
  - { id: bob, name: Bob, wecom_user: bob-wx, wecom_app: WECOM, max_concurrent: 1 }
  - { id: carol, name: Carol, wecom_user: carol-wx, wecom_app: WECOM, max_concurrent: 5 }
`})
	ctx := context.Background()
	e.agent("alice-wx", "/online")
	e.agent("bob-wx", "上线")
	e.agent("carol-wx", "/online")
	e.agent("carol-wx", "/offline")
	e.waitFor(e.wecom, "carol-wx", "您已下线")

	for _, u := range []string{"u1", "u2", "u3"} {
		e.askHuman(u)
	}
	e.waitFor(e.wecom, "alice-wx", "顾客u1")
	e.waitFor(e.wecom, "bob-wx", "顾客u2")
	e.waitFor(e.shop, "u3", "您当前排在第 1 位")
	if o := e.owner("u3"); o != "queue:default" {
		t.Fatalf("waiting customer's owner = %q", o)
	}
	w, err := e.svc.Waiting(ctx, "")
	if err != nil || len(w) != 1 || w[0].Conversation != e.conv("u3") || w[0].Position != 1 {
		t.Fatalf("waiting = %+v, %v", w, err)
	}

	// u3 asks again while waiting: told the position, not queued twice.
	e.customer(u3, "人工")
	e.waitCount(e.shop, "u3", "排在第 1 位", 2)

	e.agent("alice-wx", "/end")
	e.waitFor(e.wecom, "alice-wx", "顾客u3")
	e.waitFor(e.shop, "u3", "客服Alice为您服务")
	e.settle()

	if n := len(sentTo(e.wecom, "carol-wx")); n != 2 {
		t.Errorf("the offline agent got %d messages, want only the answers to /online and /offline", n)
	}
	for _, u := range []string{"u1", "u2", "u3"} {
		if n := countWith(e.shop, u, "您好，客服"); n != 1 {
			for _, m := range sentTo(e.shop, u) {
				t.Logf("%s got %q", u, m.Text)
			}
			t.Errorf("%s was greeted %d times", u, n)
		}
	}
	agents, err := e.svc.Agents(ctx)
	if err != nil {
		t.Fatal(err)
	}
	load := map[string]int{}
	for _, a := range agents {
		load[a.ID] = a.Load
	}
	if load["alice"] != 1 || load["bob"] != 1 || load["carol"] != 0 {
		t.Fatalf("loads = %v", load)
	}
	if w, _ := e.svc.Waiting(ctx, ""); len(w) != 0 {
		t.Fatalf("still waiting: %+v", w)
	}
}

const u3 = "u3"

// Round robin spreads customers over agents in turn, whatever their load.
func TestRoundRobin(t *testing.T) {
	e := setup(t, options{handoff: `
agent_channel: fake
strategy: round_robin
agents:
  - { id: alice, name: Alice, wecom_user: alice-wx, wecom_app: WECOM, max_concurrent: 5 }
  - { id: bob, name: Bob, wecom_user: bob-wx, wecom_app: WECOM, max_concurrent: 5 }
`})
	e.agent("alice-wx", "/online")
	e.agent("bob-wx", "/online")
	for _, u := range []string{"u1", "u2", "u3", "u4"} {
		e.askHuman(u)
	}
	for _, u := range []string{"u1", "u3"} {
		e.waitFor(e.wecom, "alice-wx", "顾客"+u)
	}
	for _, u := range []string{"u2", "u4"} {
		e.waitFor(e.wecom, "bob-wx", "顾客"+u)
	}
}

// Least busy gives a new customer to the agent with the fewest
// conversations, not to the one next in line.
func TestLeastBusy(t *testing.T) {
	e := setup(t, options{handoff: `
agent_channel: fake
agents:
  - { id: alice, name: Alice, wecom_user: alice-wx, wecom_app: WECOM, max_concurrent: 5 }
  - { id: bob, name: Bob, wecom_user: bob-wx, wecom_app: WECOM, max_concurrent: 5 }
`})
	e.agent("alice-wx", "/online")
	e.askHuman("u1") // alice (bob offline)
	e.askHuman("u2") // alice
	e.waitFor(e.wecom, "alice-wx", "顾客u2")
	e.agent("bob-wx", "/online")
	e.askHuman("u3") // bob: 0 < 2
	e.askHuman("u4") // bob: 1 < 2
	e.waitFor(e.wecom, "bob-wx", "顾客u3")
	e.waitFor(e.wecom, "bob-wx", "顾客u4")
}

// Queues route by skill, and a flow's handoff step names its queue.
func TestSkillsRouteQueues(t *testing.T) {
	e := setup(t, options{handoff: `
agent_channel: fake
queues:
  - { id: general }
  - { id: vip, name: VIP专席, skills: [vip] }
agents:
  - { id: alice, name: Alice, wecom_user: alice-wx, wecom_app: WECOM, skills: [] }
  - { id: vera, name: Vera, wecom_user: vera-wx, wecom_app: WECOM, skills: [vip] }
`})
	e.agent("alice-wx", "/online")
	e.customer("u1", "VIP服务")
	e.waitFor(e.shop, "u1", "排在第 1 位") // only Vera serves vip, and she is offline
	e.agent("vera-wx", "/online")      // coming online assigns the waiting customer
	n := e.waitFor(e.wecom, "vera-wx", "顾客u1")
	if !strings.Contains(n.Text, "VIP专席") || !strings.Contains(n.Text, "VIP客户") {
		t.Errorf("notice lacks the queue and reason: %s", n.Text)
	}
	if len(sentTo(e.wecom, "alice-wx")) != 1 {
		t.Error("alice, without the vip skill, was offered a vip customer")
	}
}

// Outside business hours the customer hears the queue's out-of-hours
// message and may leave a message, which the operators can read; then the
// bot answers again.
func TestOutOfHoursLeavesAMessage(t *testing.T) {
	saturday := time.Date(2026, 3, 7, 3, 0, 0, 0, time.FixedZone("CST", 8*3600))
	fake := clock.NewFake(saturday)
	e := setup(t, options{clock: fake, handoff: `
agent_channel: fake
queues:
  - id: support
    business_hours:
      time_zone: Asia/Shanghai
      weekly: [ { days: mon-fri, hours: "09:00-18:00" } ]
    out_of_hours_message: 客服工作时间为周一至周五 9:00-18:00，下次上班：{opens}。
agents:
  - { id: alice, name: Alice, wecom_user: alice-wx, wecom_app: WECOM }
`})
	e.agent("alice-wx", "/online") // online, but the queue is closed
	e.customer("u1", "人工")
	e.waitFor(e.shop, "u1", "客服工作时间为周一至周五 9:00-18:00，下次上班：03-09 09:00。")
	e.waitFor(e.shop, "u1", "您可以直接发送留言")
	if len(sentTo(e.wecom, "alice-wx")) != 1 {
		t.Fatal("an agent was notified outside business hours")
	}
	if o := e.owner("u1"); o != "message:support" {
		t.Fatalf("owner = %q", o)
	}
	e.customer("u1", "请明天给我回电 13800000000")
	e.waitFor(e.shop, "u1", "已收到您的留言")
	left, err := e.svc.LeftMessages(context.Background(), 10)
	if err != nil || len(left) != 1 || !strings.Contains(left[0].Text, "13800000000") || left[0].Why != "out_of_hours" {
		t.Fatalf("left messages = %+v, %v", left, err)
	}
	e.customer("u1", "hi")
	e.waitFor(e.shop, "u1", "hello there")

	// Monday 09:30: open.
	fake.Set(time.Date(2026, 3, 9, 9, 30, 0, 0, time.FixedZone("CST", 8*3600)))
	e.agent("alice-wx", "/online")
	e.customer("u2", "人工")
	e.waitFor(e.wecom, "alice-wx", "顾客u2")
}
