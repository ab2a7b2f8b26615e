package handoff_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/kefu-gateway/kefu/adapters"
	"github.com/kefu-gateway/kefu/internal/clock"
	"github.com/redis/go-redis/v9"
)

// closedSupport is a support queue closed at the weekend, served by alice
// (who has its skill) and not by bob.
const closedSupport = closedSupportQueue + `
agents:
  - { id: alice, name: Alice, wecom_user: alice-wx, wecom_app: WECOM, skills: [support] }
  - { id: bob, name: Bob, wecom_user: bob-wx, wecom_app: WECOM, skills: [] }
`

// closedSupportQueue is a support queue closed at the weekend.
const closedSupportQueue = `
agent_channel: fake
queues:
  - id: support
    name: 售后
    skills: [support]
    business_hours:
      time_zone: Asia/Shanghai
      weekly: [ { days: mon-fri, hours: "09:00-18:00" } ]`

const leftNotice = "条客户留言"

// saturday is 11:00 on a Saturday in Shanghai, when the queue is closed.
var saturday = time.Date(2026, 3, 7, 11, 0, 0, 0, time.FixedZone("CST", 8*3600))

// leave has user ask for a human while the queue is closed and leave text.
func (e *env) leave(user, text string) {
	e.t.Helper()
	e.customer(user, "人工")
	e.waitFor(e.shop, user, "您可以直接发送留言")
	e.customer(user, text)
	e.waitFor(e.shop, user, "已收到您的留言")
}

// The customer is told "客服会尽快联系您": an agent of the queue who is
// online hears of the message at once, with when, who, where and what; an
// agent who does not serve the queue does not.
func TestLeftMessageReachesOnlineAgentAtOnce(t *testing.T) {
	e := setup(t, options{clock: clock.NewFake(saturday), handoff: closedSupport})
	e.agent("alice-wx", "/online")
	e.agent("bob-wx", "/online")
	e.leave("u1", "请周一给我回电   13800000000")
	n := e.waitFor(e.wecom, "alice-wx", leftNotice)
	for _, want := range []string{"您有 1 条客户留言", "03-07 11:00", "顾客u1", "请周一给我回电 13800000000"} {
		if !strings.Contains(n.Text, want) {
			t.Errorf("notice lacks %q:\n%s", want, n.Text)
		}
	}
	e.settle()
	if c := countWith(e.wecom, "bob-wx", leftNotice); c != 0 {
		t.Errorf("bob, who does not serve the queue, got %d notices", c)
	}
	if c := countWith(e.wecom, "alice-wx", leftNotice); c != 1 {
		t.Errorf("alice got %d notices, want 1", c)
	}
}

// Messages left while the agent is away reach them together when they come
// online, once: going offline and online again repeats nothing, and a
// message left while they are online comes on its own.
func TestLeftMessagesWaitForTheAgentToComeOnline(t *testing.T) {
	e := setup(t, options{clock: clock.NewFake(saturday), handoff: closedSupport})
	e.leave("u1", "发票抬头写错了")
	e.leave("u2", "退款什么时候到账")
	e.settle()
	if c := countWith(e.wecom, "alice-wx", leftNotice); c != 0 {
		t.Fatalf("alice, offline, got %d notices", c)
	}
	e.agent("alice-wx", "/offline") // a first message that says she is leaving brings no notice
	e.settle()
	if c := countWith(e.wecom, "alice-wx", leftNotice); c != 0 {
		t.Fatalf("alice got %d notices for /offline", c)
	}
	e.agent("alice-wx", "/online")
	n := e.waitFor(e.wecom, "alice-wx", leftNotice)
	if !strings.Contains(n.Text, "您有 2 条客户留言") || strings.Index(n.Text, "发票") > strings.Index(n.Text, "退款") {
		t.Fatalf("notice should list both, oldest first:\n%s", n.Text)
	}
	e.agent("alice-wx", "/offline")
	e.agent("alice-wx", "/online")
	e.leave("u3", "换货地址改一下")
	e.waitCount(e.wecom, "alice-wx", leftNotice, 2)
	e.settle()
	got := sentTo(e.wecom, "alice-wx")
	var notices []string
	for _, m := range got {
		if strings.Contains(m.Text, leftNotice) {
			notices = append(notices, m.Text)
		}
	}
	if len(notices) != 2 || !strings.Contains(notices[1], "您有 1 条客户留言") || !strings.Contains(notices[1], "换货地址") ||
		strings.Contains(notices[1], "发票") {
		t.Fatalf("notices = %q, want the first two once and the third on its own", notices)
	}

	// /messages (查看留言) lists them again, oldest first, for the agent's
	// queues only.
	e.agent("alice-wx", "查看留言")
	list := e.waitFor(e.wecom, "alice-wx", "最近 3 条客户留言")
	if i, j, k := strings.Index(list.Text, "发票"), strings.Index(list.Text, "退款"), strings.Index(list.Text, "换货"); i < 0 || i > j || j > k {
		t.Fatalf("list not oldest first:\n%s", list.Text)
	}
	e.agent("bob-wx", "/messages")
	e.waitFor(e.wecom, "bob-wx", "暂无客户留言")
	// bob came online with that message, three messages after they were
	// left, and heard of none: they are not his queue's.
	e.settle()
	if c := countWith(e.wecom, "bob-wx", leftNotice); c != 0 {
		t.Fatalf("bob, who does not serve the queue, got %d notices", c)
	}
}

// Presence lapses when an agent stops writing (presence_ttl); a message
// left meanwhile reaches them with whatever they write next.
func TestLeftMessageReachesAnAgentWhosePresenceLapsed(t *testing.T) {
	fake := clock.NewFake(saturday)
	e := setup(t, options{clock: fake, handoff: closedSupport})
	e.agent("alice-wx", "/online")
	fake.Advance(31 * time.Minute) // past the default presence_ttl of 30 minutes
	e.leave("u1", "快递一直没到")
	e.settle()
	if c := countWith(e.wecom, "alice-wx", leftNotice); c != 0 {
		t.Fatalf("alice, whose presence lapsed, got %d notices at once", c)
	}
	e.agent("alice-wx", "在的")
	if n := e.waitFor(e.wecom, "alice-wx", leftNotice); !strings.Contains(n.Text, "快递一直没到") {
		t.Fatalf("notice:\n%s", n.Text)
	}
}

// failingNotice refuses to queue the first left-message notice, as a
// Redis that stopped answering would; everything else goes through.
type failingNotice struct {
	adapters.Enqueuer
	failed atomic.Bool
}

func (f *failingNotice) EnqueueContext(ctx context.Context, task *asynq.Task, opts ...asynq.Option) (*asynq.TaskInfo, error) {
	if strings.Contains(string(task.Payload()), leftNotice) && f.failed.CompareAndSwap(false, true) {
		return nil, errors.New("queue unreachable")
	}
	return f.Enqueuer.EnqueueContext(ctx, task, opts...)
}

// A notice that cannot even be queued gives its messages back: the agent's
// next notice carries them, instead of their being marked as told.
func TestLeftNoticeThatCannotBeQueuedComesAgain(t *testing.T) {
	queue := &failingNotice{}
	e := setup(t, options{clock: clock.NewFake(saturday), handoff: closedSupport,
		handoffTasks: func(q adapters.Enqueuer) adapters.Enqueuer { queue.Enqueuer = q; return queue }})
	e.leave("u1", "发票抬头写错了")
	e.settle()
	e.agent("alice-wx", "/online")
	e.settle()
	if !queue.failed.Load() {
		t.Fatal("coming online tried no notice")
	}
	if c := countWith(e.wecom, "alice-wx", leftNotice); c != 0 {
		t.Fatalf("alice got %d notices though queuing it failed", c)
	}
	e.agent("alice-wx", "/offline")
	e.agent("alice-wx", "/online")
	n := e.waitFor(e.wecom, "alice-wx", leftNotice)
	if !strings.Contains(n.Text, "您有 1 条客户留言") || !strings.Contains(n.Text, "发票抬头") {
		t.Fatalf("the notice after the failed one:\n%s", n.Text)
	}
}

// /accept brings an agent who was away the messages left meanwhile, like
// any coming online; a notice lists the oldest ten and counts the rest, and
// /messages the newest ten.
func TestLeftMessagesTenAtATime(t *testing.T) {
	e := setup(t, options{clock: clock.NewFake(saturday), handoff: closedSupport})
	for i := 1; i <= 12; i++ {
		e.leave(fmt.Sprintf("u%d", i), fmt.Sprintf("留言%d", i))
	}
	e.settle()
	e.agent("alice-wx", "/accept")
	e.waitFor(e.wecom, "alice-wx", "队列中没有等待的客户")
	n := e.waitFor(e.wecom, "alice-wx", "您有 12 条客户留言")
	listed := func(text string, i int) bool { return strings.Contains(text, fmt.Sprintf("顾客u%d（", i)) }
	for i := 1; i <= 12; i++ {
		if listed(n.Text, i) != (i <= 10) {
			t.Fatalf("the notice should list u1 to u10 (the oldest), u%d listed: %v\n%s", i, listed(n.Text, i), n.Text)
		}
	}
	if !strings.Contains(n.Text, "另有 2 条") {
		t.Fatalf("the notice does not count the two it leaves out:\n%s", n.Text)
	}
	e.agent("alice-wx", "/messages")
	list := e.waitFor(e.wecom, "alice-wx", "最近 10 条客户留言")
	for i := 1; i <= 12; i++ {
		if listed(list.Text, i) != (i >= 3) {
			t.Fatalf("/messages should list u3 to u12 (the newest), u%d listed: %v\n%s", i, listed(list.Text, i), list.Text)
		}
	}
}

// /messages finds the agent's messages behind pages of other queues'.
func TestMessagesLooksPastOtherQueues(t *testing.T) {
	e := setup(t, options{clock: clock.NewFake(saturday), handoff: closedSupport})
	ctx := context.Background()
	add := func(queue, customer, text string) {
		err := e.db.Client.XAdd(ctx, &redis.XAddArgs{Stream: e.keys.Prefix + "{ho}:msgs", Values: []any{
			"conversation", e.conv(customer), "queue", queue, "channel", "fake", "account", e.shopID,
			"customer", customer, "name", "顾客" + customer, "text", text, "ts", saturday.UnixMilli()}}).Err()
		if err != nil {
			t.Fatal(err)
		}
	}
	for i := 1; i <= 3; i++ {
		add("support", fmt.Sprintf("u%d", i), fmt.Sprintf("售后留言%d", i))
	}
	for i := range 250 {
		add("sales", fmt.Sprintf("s%d", i), "批发咨询")
	}
	e.agent("alice-wx", "/messages")
	list := e.waitFor(e.wecom, "alice-wx", "最近 3 条客户留言")
	for i := 1; i <= 3; i++ {
		if !strings.Contains(list.Text, fmt.Sprintf("售后留言%d", i)) {
			t.Fatalf("/messages lacks u%d's message:\n%s", i, list.Text)
		}
	}
	if strings.Contains(list.Text, "批发咨询") {
		t.Fatalf("/messages lists another queue's message:\n%s", list.Text)
	}
}
