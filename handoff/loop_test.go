package handoff_test

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kefu-gateway/kefu/adapters/message"
	"github.com/kefu-gateway/kefu/internal/clock"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

// Monday 2026-03-02 10:00 in Shanghai: inside ordinary business hours.
var mondayMorning = time.Date(2026, 3, 2, 10, 0, 0, 0, time.FixedZone("CST", 8*3600))

// The whole loop: a customer asks for a human, the agent gets the notice
// with context in WeCom, the agent's reply reaches the customer, the
// customer's next message reaches the agent (and not the bot), /end asks
// for a rating, the rating is recorded, and the bot answers again.
func TestFullLoop(t *testing.T) {
	fake := clock.NewFake(mondayMorning)
	e := setup(t, options{clock: fake})
	ctx := context.Background()

	e.customer("u1", "hi")
	e.waitFor(e.shop, "u1", "hello there")
	e.agent("alice-wx", "/online")
	e.waitFor(e.wecom, "alice-wx", "您已上线")

	// Context the notice must carry: a tag and a slot the flows collected.
	if err := e.db.Client.SAdd(ctx, "kefu:contact:{"+e.conv("u1")+"}:tags", "VIP").Err(); err != nil {
		t.Fatal(err)
	}
	addSlot(t, e, "u1", "order_id", "A1001")
	fake.Advance(30 * time.Second)
	// 人工 is the flows' global handoff command: the router hands its
	// handoff action to the service (RunEffect), as the lead wires it.
	e.customer("u1", "人工")

	notice := e.waitFor(e.wecom, "alice-wx", "【新客户】")
	golden(t, "notice_full_loop.golden", notice.Text)
	greet := e.waitFor(e.shop, "u1", "客服Alice为您服务")
	if greet.From.Role != message.RoleSystem {
		t.Errorf("greeting from %+v", greet.From)
	}
	if o := e.owner("u1"); o != "agent:alice" {
		t.Fatalf("owner = %q, want agent:alice", o)
	}

	e.agent("alice-wx", "您好，我来帮您查一下订单")
	reply := e.waitFor(e.shop, "u1", "我来帮您查一下订单")
	if reply.From.Role != message.RoleAgent || reply.From.Name != "Alice" {
		t.Errorf("agent reply from %+v, want role agent named Alice", reply.From)
	}

	e.customer("u1", "好的谢谢")
	e.waitFor(e.wecom, "alice-wx", "【顾客u1】好的谢谢")
	if n := countWith(e.shop, "u1", "hello there") + countWith(e.shop, "u1", "抱歉"); n != 1 {
		t.Fatalf("the bot spoke during the handoff (%d bot-ish messages)", n)
	}

	e.agent("alice-wx", "/end")
	e.waitFor(e.wecom, "alice-wx", "已结束与客户 顾客u1 的会话")
	e.waitFor(e.shop, "u1", "本次人工服务已结束")
	e.waitFor(e.shop, "u1", "请为本次服务打分")
	if o := e.owner("u1"); o != "" {
		t.Fatalf("owner after /end = %q, want the bot", o)
	}

	e.customer("u1", "5")
	e.waitFor(e.shop, "u1", "感谢您的评价（5 分）")
	rs, err := e.svc.Ratings(ctx)
	if err != nil || rs[0].Agent != "alice" || rs[0].Count != 1 || rs[0].Average != 5 || rs[0].Scores[4] != 1 {
		t.Fatalf("ratings = %+v, %v", rs, err)
	}
	if d := e.detail("u1"); len(d.Ratings) != 1 || !strings.Contains(string(d.Ratings[0]), `"score":5`) || d.Status != "resolved" {
		t.Fatalf("conversation detail = %+v", d)
	}

	// Back with the bot: the next message gets the bot's answer, and a
	// later "5" is the bot's business, not a second rating.
	before := countWith(e.shop, "u1", "hello there")
	e.customer("u1", "hi")
	deadline := time.Now().Add(5 * time.Second)
	for countWith(e.shop, "u1", "hello there") == before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if countWith(e.shop, "u1", "hello there") != before+1 {
		t.Fatal("the bot did not answer after the handoff")
	}
	e.customer("u1", "5")
	e.settle()
	if n := countWith(e.shop, "u1", "感谢您的评价"); n != 1 {
		t.Fatalf("%d rating thanks, want 1", n)
	}
	if rs, _ := e.svc.Ratings(ctx); rs[0].Count != 1 {
		t.Fatalf("a second rating was counted: %+v", rs[0])
	}
}

// A rating is only taken as the customer's next message: once they wrote
// something else, a "2" (a menu choice, say) goes to the bot.
func TestRatingIgnoredAfterCustomerMovedOn(t *testing.T) {
	e := setup(t, options{})
	e.agent("alice-wx", "/online")
	e.customer("u1", "人工")
	e.waitFor(e.wecom, "alice-wx", "【新客户】")
	e.agent("alice-wx", "/end")
	e.waitFor(e.shop, "u1", "请为本次服务打分")
	e.customer("u1", "menu")
	e.waitFor(e.shop, "u1", "1. 查订单")
	e.customer("u1", "2")
	e.waitFor(e.shop, "u1", "抱歉") // the bot's fallback, not a thank-you
	if rs, _ := e.svc.Ratings(context.Background()); rs[0].Count != 0 {
		t.Fatalf("a menu choice was counted as a rating: %+v", rs[0])
	}
}

func addSlot(t *testing.T, e *env, user, k, v string) {
	t.Helper()
	key := e.keys.Conversation(e.conv(user))
	d, err := e.db.Client.HGet(context.Background(), key, "d").Result()
	if err != nil {
		t.Fatal(err)
	}
	var st map[string]any
	if err := json.Unmarshal([]byte(d), &st); err != nil {
		t.Fatal(err)
	}
	fl, _ := st["flow"].(map[string]any)
	if fl == nil {
		fl = map[string]any{}
	}
	fl["slots"] = map[string]any{k: v}
	st["flow"] = fl
	b, _ := json.Marshal(st)
	// As a commit does, the version moves with the state: a process that
	// answers from the state it committed last must see it changed.
	pipe := e.db.Client.TxPipeline()
	pipe.HSet(context.Background(), key, "d", b)
	pipe.HIncrBy(context.Background(), key, "v", 1)
	if _, err := pipe.Exec(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs:\n--- got ---\n%s\n--- want ---\n%s", name, got, want)
	}
}
