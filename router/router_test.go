package router_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/hibiken/asynq"
	"github.com/kefu-gateway/kefu/adapters"
	"github.com/kefu-gateway/kefu/adapters/message"
	"github.com/kefu-gateway/kefu/flows"
	"github.com/kefu-gateway/kefu/internal/metrics"
	"github.com/kefu-gateway/kefu/internal/store"
	"github.com/kefu-gateway/kefu/internal/testutil/fakechannel"
	"github.com/kefu-gateway/kefu/internal/testutil/flowset"
	"github.com/kefu-gateway/kefu/internal/testutil/redistest"
	"github.com/kefu-gateway/kefu/router"
	"github.com/kefu-gateway/kefu/workers"
	dto "github.com/prometheus/client_model/go"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"
	"gopkg.in/yaml.v3"
)

const testFlows = `
flows:
  - id: greeting
    triggers: { keywords: [hi, 你好] }
    steps:
      - say: hello there
  - id: long
    triggers: { keywords: [long] }
    steps:
      - say: 一二三四五六七八九十一二三四五六七八九十一二三四五六七八九十
  - id: returns
    triggers: { contains: [退货] }
    steps:
      - say: 退货请在订单页申请
  - id: two
    triggers: { keywords: [two] }
    steps:
      - say: first
      - say: second
  - id: count
    triggers: { keywords: [count] }
    steps:
      - ask: how many?
        slot: n
        type: number
        invalid: a number please
      - say: "got {{slots.n}}"
  - id: lookup
    triggers: { keywords: [lookup] }
    steps:
      - http: { url: "http://127.0.0.1:9/order" }
        on_error:
          - say: lookup failed
  - id: whoami
    triggers: { keywords: [whoami] }
    steps:
      - say: "you are {{contact.name}}"
  - id: loop
    triggers: { keywords: [loop] }
    steps:
      - id: a
        say: tick
      - goto: a
`

type env struct {
	metrics *metrics.Metrics
	r       *router.Router
	db      *redistest.DB
	keys    store.Keys
	fake    *fakechannel.Adapter
	account string
}

// setup builds a router with one fake account, real Redis and real asynq
// workers delivering its active sends.
func setup(t *testing.T, account string, caps string) *env { return setupTB(t, account, caps) }

func setupB(b *testing.B) *env { return setupTB(b, "bench", "passive_budget: 5s") }

func setupTB(t testing.TB, account string, caps string) *env {
	t.Helper()
	return setupOn(t, redistest.New(t), account, caps)
}

func setupOn(t testing.TB, db *redistest.DB, account string, caps string) *env {
	t.Helper()
	log := zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))
	keys := store.Keys{Prefix: "kefu:"}
	m := metrics.New()
	r, as := newProcess(t, db, keys, account, caps, log, m)
	srv := workers.NewServer(db.Client, workers.Config{Concurrency: 4, ShutdownTimeout: 2 * time.Second,
		RetryBase: 20 * time.Millisecond, RetryMax: 100 * time.Millisecond, PollInterval: 50 * time.Millisecond}, log)
	db.Client.AddHook(m.RedisHook())
	srv.Handle(workers.TypeOutboundSend, &workers.Outbound{Lookup: as.Lookup, Redis: db.Client, Keys: keys, Log: log, Metrics: m})
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	return &env{metrics: m, r: r, db: db, keys: keys, fake: fakechannel.Get(account), account: account}
}

func (e *env) msg(id, text string) message.Message {
	return message.Message{ID: id, Channel: fakechannel.Kind, Account: e.account, ConversationID: "fake:" + e.account + ":u1",
		From: message.Party{ID: "u1"}, Kind: message.KindText, Text: text}
}

func (e *env) accept(t *testing.T, m message.Message) adapters.Turn {
	t.Helper()
	turn, err := e.r.Accept(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	return turn
}

func (e *env) transcript(t *testing.T) []message.Message {
	t.Helper()
	ms, err := router.NewTranscriptReader(e.db.Client, e.keys).After(context.Background(), "fake:"+e.account+":u1", "", 100)
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

func TestSameMessageIDIsProcessedOnce(t *testing.T) {
	e := setup(t, "dedup", "passive_budget: 2s")
	var wg sync.WaitGroup
	var mu sync.Mutex
	fresh := 0
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			turn := e.accept(t, e.msg("wx-msg-1", "hi"))
			if !turn.Duplicate() {
				mu.Lock()
				fresh++
				mu.Unlock()
			}
			turn.TakePassive(context.Background(), time.Second)
		}()
	}
	wg.Wait()
	if fresh != 1 {
		t.Fatalf("%d of 8 deliveries of one message were processed, want 1", fresh)
	}
	if tx := e.transcript(t); len(tx) != 2 {
		t.Fatalf("transcript has %d entries, want 2", len(tx))
	}
	time.Sleep(200 * time.Millisecond)
	if n := len(e.fake.Sent()); n != 0 {
		t.Errorf("%d active sends for a passively answered message", n)
	}
}

// A Redis that restarted (or had SCRIPT FLUSH) no longer has the scripts
// kefu loaded: turns still commit. The test has a Redis of its own (the
// embedded one), so flushing scripts disturbs no other test.
func TestTurnsCommitAfterRedisForgetsItsScripts(t *testing.T) {
	db := redistest.Private(t)
	client := db.Client
	e := setupOn(t, db, "scripts", "passive_budget: 2s")
	ctx := context.Background()
	for i, id := range []string{"m1", "m2", "m3"} {
		if i > 0 {
			if err := client.ScriptFlush(ctx).Err(); err != nil {
				t.Fatal(err)
			}
		}
		turn := e.accept(t, e.msg(id, "hi"))
		replies, ok := turn.TakePassive(ctx, 2*time.Second)
		if err := turn.Err(); err != nil || !ok || len(replies) != 1 || replies[0].Text != "hello there" {
			t.Fatalf("turn %s after SCRIPT FLUSH: %v %v %+v", id, err, ok, replies)
		}
	}
	if tx := e.transcript(t); len(tx) != 6 {
		t.Fatalf("transcript has %d entries, want 6", len(tx))
	}
}

func TestPassiveReplyWhenReadyInTime(t *testing.T) {
	e := setup(t, "passive", "passive_budget: 2s")
	turn := e.accept(t, e.msg("m1", "two"))
	replies, ok := turn.TakePassive(context.Background(), 2*time.Second)
	if !ok || len(replies) != 2 || replies[0].Text != "first" || replies[1].Text != "second" {
		t.Fatalf("passive replies = %v %+v", ok, replies)
	}
	// The adapter fits only one into its response and returns the other.
	turn.Return(replies[1:])
	sent := e.fake.WaitSent(1, 5*time.Second)
	if len(sent) != 1 || sent[0].Text != "second" {
		t.Fatalf("active sends = %+v, want the returned second reply", sent)
	}
}

func TestActiveDeliveryWhenPassiveWindowIsMissed(t *testing.T) {
	e := setup(t, "active", "passive_budget: 100ms")
	m := e.msg("m1", "hi")
	m.Reply.PassiveDeadline = time.Now().Add(100 * time.Millisecond)
	e.accept(t, m) // the adapter never takes the replies
	sent := e.fake.WaitSent(1, 5*time.Second)
	if len(sent) != 1 || sent[0].Text != "hello there" {
		t.Fatalf("active sends = %+v", sent)
	}
	time.Sleep(300 * time.Millisecond)
	if n := len(e.fake.Sent()); n != 1 {
		t.Errorf("%d sends, want exactly 1", n)
	}
}

func TestLongTextIsSplitOnUTF8BoundariesInOrder(t *testing.T) {
	e := setup(t, "split", "max_text_bytes: 20")
	e.accept(t, e.msg("m1", "long"))
	want := "一二三四五六七八九十一二三四五六七八九十一二三四五六七八九十"
	sent := e.fake.WaitSent(5, 5*time.Second)
	var got strings.Builder
	ids := map[string]bool{}
	for _, s := range sent {
		if len(s.Text) > 20 || !utf8.ValidString(s.Text) {
			t.Errorf("part %q: %d bytes, valid UTF-8 %v", s.Text, len(s.Text), utf8.ValidString(s.Text))
		}
		if ids[s.ID] {
			t.Errorf("part id %s repeated", s.ID)
		}
		ids[s.ID] = true
		got.WriteString(s.Text)
	}
	if got.String() != want {
		t.Fatalf("parts joined = %q, want %q", got.String(), want)
	}
}

func TestHumanOwnedConversationGetsNoBotReply(t *testing.T) {
	e := setup(t, "human", "passive_budget: 1s")
	conv := "fake:human:u1"
	if err := e.db.Client.HSet(context.Background(), e.keys.Conversation(conv), "o", "agent:alice").Err(); err != nil {
		t.Fatal(err)
	}
	turn := e.accept(t, e.msg("m1", "hi"))
	replies, ok := turn.TakePassive(context.Background(), time.Second)
	if !ok || len(replies) != 0 {
		t.Fatalf("bot replied while a human owns the conversation: %+v", replies)
	}
	if tx := e.transcript(t); len(tx) != 1 || tx[0].Text != "hi" {
		t.Fatalf("the customer's message must still be recorded: %+v", tx)
	}
}

// A bot reply already queued when a human takes over is not delivered.
func TestInFlightBotReplyIsDroppedAfterHandoff(t *testing.T) {
	e := setup(t, "inflight", "")
	block := make(chan struct{})
	e.fake.SetFail(func(n int, m message.Message) error {
		if n == 1 {
			<-block // the first attempt is slow; the handoff happens meanwhile
			return errors.New("timeout talking to the platform")
		}
		return nil
	})
	e.accept(t, e.msg("m1", "two"))
	time.Sleep(200 * time.Millisecond)
	if err := e.db.Client.HSet(context.Background(), e.keys.Conversation("fake:inflight:u1"), "o", "agent:bob").Err(); err != nil {
		t.Fatal(err)
	}
	close(block)
	deadline := time.Now().Add(10 * time.Second)
	for len(undeliverable(t, e)) < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if s := e.fake.Sent(); len(s) != 0 {
		t.Fatalf("bot replies delivered after the handoff: %+v", s)
	}
	reasons := undeliverable(t, e)
	if len(reasons) != 2 || reasons[0] != workers.ReasonHumanOwned {
		t.Fatalf("undeliverable = %q", reasons)
	}
}

func undeliverable(t *testing.T, e *env) []string {
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

func TestPermanentFailureIsRecordedNotRetried(t *testing.T) {
	e := setup(t, "perm", "")
	e.fake.SetFail(func(n int, m message.Message) error {
		return fmt.Errorf("sending fake message: %w", adapters.ErrWindowClosed)
	})
	e.accept(t, e.msg("m1", "two"))
	deadline := time.Now().Add(5 * time.Second)
	for len(undeliverable(t, e)) < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	if n := e.fake.Attempts(); n != 1 {
		t.Errorf("%d attempts for a permanent failure, want 1", n)
	}
	r := undeliverable(t, e)
	if len(r) != 2 || !strings.Contains(r[0], "window closed") {
		t.Errorf("undeliverable reasons = %q, want both parts with the window reason", r)
	}
	// Counted as failed, never as sent.
	out := func(result string) float64 {
		var d dto.Metric
		if err := e.metrics.MessagesOut.WithLabelValues(fakechannel.Kind, string(message.KindText), result).Write(&d); err != nil {
			t.Fatal(err)
		}
		return d.GetCounter().GetValue()
	}
	if failed, sent := out("failed"), out("sent"); failed != 2 || sent != 0 {
		t.Errorf("kefu_messages_out_total: failed %v, sent %v; want 2 and 0", failed, sent)
	}
}

func TestTransientFailureRetriesWithoutRepeatingSentParts(t *testing.T) {
	e := setup(t, "retry", "")
	e.fake.SetFail(func(n int, m message.Message) error {
		if n == 2 { // the second part fails once
			return errors.New("connection reset")
		}
		return nil
	})
	e.accept(t, e.msg("m1", "two"))
	sent := e.fake.WaitSent(2, 10*time.Second)
	if len(sent) != 2 || sent[0].Text != "first" || sent[1].Text != "second" {
		t.Fatalf("sent = %+v, want first then second exactly once", sent)
	}
	if n := e.fake.Attempts(); n != 3 {
		t.Errorf("%d attempts, want 3", n)
	}
}

func TestDeferredRepliesGoWithTheNextPassiveReply(t *testing.T) {
	e := setup(t, "deferred", "passive_budget: 1s")
	e.fake.SetFail(func(n int, m message.Message) error { return adapters.ErrDeferred })
	m := e.msg("m1", "hi")
	m.Reply.PassiveDeadline = time.Now().Add(50 * time.Millisecond)
	e.accept(t, m) // missed passive window; no active API
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if n, _ := e.db.Client.LLen(context.Background(), e.keys.Pending("fake:deferred:u1")).Result(); n == 1 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	turn := e.accept(t, e.msg("m2", "two"))
	replies, ok := turn.TakePassive(context.Background(), time.Second)
	if !ok || len(replies) != 3 || replies[0].Text != "hello there" || replies[1].Text != "first" {
		t.Fatalf("next passive replies = %+v, want the deferred reply first", replies)
	}
	if n, _ := e.db.Client.LLen(context.Background(), e.keys.Pending("fake:deferred:u1")).Result(); n != 0 {
		t.Errorf("%d deferred replies left after delivery", n)
	}
}

func TestUnsupportedMessageGetsPoliteAnswer(t *testing.T) {
	e := setup(t, "unsupported", "passive_budget: 1s")
	m := e.msg("m1", "")
	m.Kind = message.KindImage
	replies, _ := e.accept(t, m).TakePassive(context.Background(), time.Second)
	if len(replies) != 1 || !strings.Contains(replies[0].Text, "文字") {
		t.Fatalf("reply to a picture = %+v", replies)
	}
	if tx := e.transcript(t); len(tx) != 2 || tx[0].Kind != message.KindImage {
		t.Fatalf("the picture must be recorded: %+v", tx)
	}
}

// Two routers (two processes) on one Redis handling one conversation at
// once lose no turn: the commit's compare-and-set makes the loser retry.
func TestConcurrentProcessesLoseNoTurn(t *testing.T) {
	a := setup(t, "cas", "passive_budget: 2s")
	b := a.secondProcess(t, "passive_budget: 2s")
	const n = 20
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		r := a.r
		if i%2 == 1 {
			r = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			turn, err := r.Accept(context.Background(), a.msg(fmt.Sprintf("m%d", i), "zzz"))
			if err != nil {
				t.Error(err)
				return
			}
			<-turn.Done()
			if err := turn.Err(); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	d, err := a.db.Client.HGet(context.Background(), a.keys.Conversation("fake:cas:u1"), "d").Result()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(d, fmt.Sprintf(`"turns":%d`, n)) {
		t.Fatalf("state after %d concurrent turns: %s", n, d)
	}
	if tx := a.transcript(t); len(tx) != 2*n {
		t.Fatalf("transcript has %d entries, want %d", len(tx), 2*n)
	}
}

// secondProcess is another kefu process on e's Redis: a router with the
// same flows and its own adapter for e's account, configured with caps.
func (e *env) secondProcess(t *testing.T, caps string) *router.Router {
	t.Helper()
	r, _ := newProcess(t, e.db, e.keys, e.account, caps, zap.NewNop(), metrics.New())
	return r
}

// newProcess builds what one kefu process has for the tests: a router on
// db with the test flows, and the fake channel's account with caps. Both
// close when the test ends.
func newProcess(t testing.TB, db *redistest.DB, keys store.Keys, account, caps string, log *zap.Logger, m *metrics.Metrics) (*router.Router, *adapters.Set) {
	t.Helper()
	return newProcessWith(t, router.Defaults(), db, keys, account, caps, log, m)
}

func newProcessWith(t testing.TB, cfg router.Config, db *redistest.DB, keys store.Keys, account, caps string, log *zap.Logger, m *metrics.Metrics) (*router.Router, *adapters.Set) {
	t.Helper()
	fakechannel.Register()
	set := flowset.Load(t, testFlows)
	tasks := asynq.NewClientFromRedisClient(db.Client)
	r := router.New(cfg, router.Deps{Redis: db.Client, Keys: keys, Log: log, Metrics: m, Engine: flows.NewEngine(set), Tasks: tasks})
	var node yaml.Node
	if err := yaml.Unmarshal([]byte(fmt.Sprintf("[{id: %s, %s}]", account, caps)), &node); err != nil {
		t.Fatal(err)
	}
	as, err := adapters.Build(adapters.Deps{Log: log, Redis: db.Client, Keys: keys, Inbound: r, Metrics: m}, map[string]*yaml.Node{fakechannel.Kind: node.Content[0]})
	if err != nil {
		t.Fatal(err)
	}
	r.SetAdapters(as)
	t.Cleanup(func() {
		_ = r.Close(context.Background())
		_ = tasks.Close()
	})
	return r, as
}

// A turn that fails (Redis refusing the commit) releases its dedup mark,
// so the platform's retry of the message is answered, not dropped.
func TestFailedTurnLetsTheRetryThrough(t *testing.T) {
	e := setup(t, "failretry", "passive_budget: 2s")
	conv := e.keys.Conversation("fake:failretry:u1")
	// A state hash whose version field is not a number makes the commit
	// script fail.
	e.db.Client.HSet(context.Background(), conv, "v", "not-a-number", "d", "{}")
	turn := e.accept(t, e.msg("m1", "hi"))
	<-turn.Done()
	if turn.Err() == nil {
		t.Fatal("expected the turn to fail")
	}
	e.db.Client.Del(context.Background(), conv)
	retry := e.accept(t, e.msg("m1", "hi"))
	if retry.Duplicate() {
		t.Fatal("the retry of a failed message was dropped as a duplicate")
	}
	if r, _ := retry.TakePassive(context.Background(), 2*time.Second); len(r) != 1 {
		t.Fatalf("retry replies = %+v", r)
	}
}

// Replies of consecutive turns reach the customer in order even when the
// first send is slow.
func TestActiveRepliesStayInOrder(t *testing.T) {
	e := setup(t, "order", "")
	e.fake.SetFail(func(n int, m message.Message) error {
		if n == 1 {
			time.Sleep(400 * time.Millisecond)
		}
		return nil
	})
	e.accept(t, e.msg("m1", "hi"))
	time.Sleep(20 * time.Millisecond)
	e.accept(t, e.msg("m2", "two"))
	got := texts(e.fake.WaitSent(3, 10*time.Second))
	if strings.Join(got, "|") != "hello there|first|second" {
		t.Fatalf("sent in order %q", got)
	}
}

// texts lists the messages' texts, in order.
func texts(ms []message.Message) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Text)
	}
	return out
}

// "infinity" parses as a float but cannot be stored: it once became the
// slot's value, the state failed to encode, and the turn failed with no
// answer on every retry. It is not a number answer.
func TestNumberQuestionRefusesInfinity(t *testing.T) {
	e := setup(t, "numbers", "passive_budget: 2s")
	for i, step := range []struct{ say, want string }{
		{"count", "how many?"}, {"infinity", "a number please"}, {"-inf", "a number please"}, {"12", "got 12"},
	} {
		turn := e.accept(t, e.msg(fmt.Sprintf("n%d", i), step.say))
		replies, ok := turn.TakePassive(context.Background(), 2*time.Second)
		if err := turn.Err(); err != nil || !ok || len(replies) == 0 || !strings.Contains(replies[0].Text, step.want) {
			t.Fatalf("%q answered %+v (ready %v, err %v), want %q", step.say, replies, ok, err, step.want)
		}
	}
}

// A flow's runtime warning (here the circuit breaker stopping a loop) is
// logged once, with the conversation, on either path.
func TestFlowWarningsAreLoggedOnce(t *testing.T) {
	for _, twoTrips := range []bool{false, true} {
		t.Run(fmt.Sprintf("two_trips=%v", twoTrips), func(t *testing.T) {
			core, logs := observer.New(zap.WarnLevel)
			cfg := router.Defaults()
			cfg.TwoTrips = twoTrips
			r, _ := newProcessWith(t, cfg, redistest.New(t), store.Keys{Prefix: "kefu:"}, "warn", "passive_budget: 5s", zap.New(core), metrics.New())
			ctx := context.Background()
			for i, text := range []string{"hi", "loop"} { // the second turn may go in one trip
				m := message.Message{ID: fmt.Sprintf("w%d", i), Channel: fakechannel.Kind, Account: "warn", ConversationID: "fake:warn:u1",
					From: message.Party{ID: "u1"}, Kind: message.KindText, Text: text}
				turn, err := r.Accept(ctx, m)
				if err != nil {
					t.Fatal(err)
				}
				if _, ok := turn.TakePassive(ctx, 5*time.Second); !ok {
					t.Fatalf("%s: no passive reply", text)
				}
			}
			warned := logs.FilterMessage("flow warning").All()
			if len(warned) != 1 {
				t.Fatalf("%d flow warning lines, want 1: %v", len(warned), warned)
			}
			if f := warned[0].ContextMap(); f["conversation"] != "fake:warn:u1" || !strings.Contains(fmt.Sprint(f["warning"]), `"loop"`) {
				t.Fatalf("fields %v", f)
			}
		})
	}
}
