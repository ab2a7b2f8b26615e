package handoff_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/kefu-gateway/kefu/adapters/message"
	"github.com/kefu-gateway/kefu/handoff"
	"github.com/kefu-gateway/kefu/internal/testutil/redistest"
	"github.com/kefu-gateway/kefu/workers"
	"github.com/redis/go-redis/v9"
)

const crashConfig = `
agent_channel: fake
claim_lease: 300ms
agents:
  - { id: alice, name: Alice, wecom_user: alice-wx, wecom_app: WECOM, max_concurrent: 3 }
`

// A worker process dies between claiming an assignment and carrying it
// out. After the restart the conversation is assigned exactly once: one
// notice to the agent, one greeting to the customer, a load of one,
// nothing left waiting or half-done.
func TestWorkerKilledMidAssignment(t *testing.T) {
	db := redistest.New(t)
	e := setup(t, options{db: db, noWorkers: true, handoff: crashConfig, shopID: "crashshop", wecomID: "crashwecom"})
	ctx := context.Background()
	e.customer("u1", "人工") // nobody online: queued
	e.waitStatus("u1", handoff.StatusQueued)

	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperClaimThenDie$", "-test.count=1")
	cmd.Env = append(os.Environ(), "KEFU_HANDOFF_CHILD=claim-then-die", "KEFU_HANDOFF_CHILD_REDIS="+db.URL)
	started := time.Now()
	out, err := cmd.CombinedOutput()
	t.Logf("worker process ran %s", time.Since(started))
	var exit *exec.ExitError
	if !errors.As(err, &exit) || !strings.Contains(exit.ProcessState.String(), "killed") {
		t.Fatalf("the worker process was meant to die hard mid-assignment; it ended with %v:\n%s", err, out)
	}
	d := e.detail("u1")
	if d.Status != handoff.StatusAssigned || d.Agent != "alice" {
		t.Fatalf("after the crash the record is %+v; the child should have claimed it", d.Record)
	}
	if n, _ := db.Client.ZCard(ctx, "kefu:{ho}:claims").Result(); n != 1 {
		t.Fatalf("%d claims pending after the crash, want 1", n)
	}
	if len(sentTo(e.wecom, "alice-wx")) != 0 {
		t.Fatal("notified before the restart?")
	}

	// The restart: this process's workers finish the job.
	started = time.Now()
	e.startWorkers()
	e.waitFor(e.wecom, "alice-wx", "【新客户】顾客u1")
	t.Logf("recovered in %s", time.Since(started))
	e.waitFor(e.shop, "u1", "客服Alice为您服务")
	// Past another lease: nothing more may happen. (No settle(): the dead
	// worker's tasks stay "active" until asynq's own lease recovery.)
	time.Sleep(600 * time.Millisecond)
	if n := countWith(e.wecom, "alice-wx", "【新客户】"); n != 1 {
		t.Errorf("%d notices, want exactly 1", n)
	}
	if n := countWith(e.shop, "u1", "您好，客服"); n != 1 {
		t.Errorf("%d greetings, want exactly 1", n)
	}
	agents, _ := e.svc.Agents(ctx)
	if agents[0].Load != 1 || len(agents[0].Conversations) != 1 || agents[0].Current != e.conv("u1") {
		t.Errorf("agent state = %+v", agents[0])
	}
	if n, _ := db.Client.ZCard(ctx, "kefu:{ho}:claims").Result(); n != 0 {
		t.Errorf("%d claims left", n)
	}
	if w, _ := e.svc.Waiting(ctx, ""); len(w) != 0 {
		t.Errorf("still waiting: %+v", w)
	}
	if o := e.owner("u1"); o != "agent:alice" {
		t.Errorf("owner = %q", o)
	}
	// And the conversation works: the agent's reply reaches the customer.
	e.agent("alice-wx", "您好")
	e.waitFor(e.shop, "u1", "您好")
}

// TestHelperClaimThenDie is the worker process of
// TestWorkerKilledMidAssignment: it brings the agent online, lets its
// asynq worker claim the waiting conversation, and kills itself (SIGKILL,
// no cleanup) right after the claim, before anyone is notified.
func TestHelperClaimThenDie(t *testing.T) {
	if os.Getenv("KEFU_HANDOFF_CHILD") != "claim-then-die" {
		t.Skip("helper process for TestWorkerKilledMidAssignment")
	}
	opts, err := redis.ParseURL(os.Getenv("KEFU_HANDOFF_CHILD_REDIS"))
	if err != nil {
		t.Fatal(err)
	}
	db := &redistest.DB{Client: redis.NewClient(opts), URL: os.Getenv("KEFU_HANDOFF_CHILD_REDIS"), Index: opts.DB}
	e := setup(t, options{db: db, noWorkers: true, handoff: crashConfig, shopID: "crashshop", wecomID: "crashwecom"})
	handoff.SetAfterClaim(e.svc, func(conv string) {
		p, _ := os.FindProcess(os.Getpid())
		_ = p.Kill()
		select {}
	})
	// This worker runs handoff tasks only (queue "default"): were it to take
	// a customer's outbound:send and die with it, the conversation's later
	// messages would wait for asynq to recover that task (outbound tasks of
	// a conversation go out in order), which is a different story.
	srv := asynq.NewServerFromRedisClient(db.Client, asynq.Config{Concurrency: 4, Queues: map[string]int{workers.QueueDefault: 1},
		TaskCheckInterval: 20 * time.Millisecond, DelayedTaskCheckInterval: 20 * time.Millisecond, LogLevel: asynq.ErrorLevel})
	mux := asynq.NewServeMux()
	for typ, h := range e.svc.Tasks() {
		mux.Handle(typ, h)
	}
	if err := srv.Start(mux); err != nil {
		t.Fatal(err)
	}
	e.agent("alice-wx", "/online")
	time.Sleep(10 * time.Second)
	t.Fatal("the assignment never happened")
}

// A bot reply that was on its way when the handoff happened is not
// delivered: the owner is checked again at send time.
func TestInFlightBotReplyDroppedAtHandoff(t *testing.T) {
	e := setup(t, options{})
	block, started := make(chan struct{}), make(chan struct{})
	e.shop.SetFail(func(n int, m message.Message) error {
		if m.From.Role == message.RoleBot && n == 1 {
			close(started)
			<-block // the platform is slow; the handoff happens meanwhile
			return errors.New("timeout talking to the platform")
		}
		return nil
	})
	e.customer("u1", "two")
	select {
	case <-started:
	case <-time.After(5 * time.Second):
		t.Fatal("the bot's reply was never sent")
	}
	// An operator hands the conversation over while "first" is in flight.
	e.request("u1", "")
	close(block)
	e.waitFor(e.shop, "u1", "您当前排在第 1 位")
	deadline := time.Now().Add(5 * time.Second)
	var reasons []string
	for time.Now().Before(deadline) {
		reasons = undeliverable(t, e)
		if len(reasons) >= 2 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if len(reasons) != 2 || reasons[0] != workers.ReasonHumanOwned || reasons[1] != workers.ReasonHumanOwned {
		t.Fatalf("undeliverable = %q, want both bot replies dropped because a human owns the conversation", reasons)
	}
	for _, m := range sentTo(e.shop, "u1") {
		if m.From.Role == message.RoleBot {
			t.Errorf("bot reply %q delivered after the handoff", m.Text)
		}
	}
}

func undeliverable(t *testing.T, e *env) []string {
	t.Helper()
	xs, err := e.db.Client.XRange(context.Background(), e.keys.Undeliverable(), "-", "+").Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		t.Fatal(err)
	}
	var out []string
	for _, x := range xs {
		out = append(out, x.Values["reason"].(string))
	}
	return out
}
