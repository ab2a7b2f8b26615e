package router_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kefu-gateway/kefu/adapters/message"
	"github.com/kefu-gateway/kefu/internal/metrics"
	"github.com/kefu-gateway/kefu/internal/testutil/metricstest"
	"github.com/kefu-gateway/kefu/router"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// oneTrips reads kefu_one_trip_turns_total{outcome}.
func oneTrips(t *testing.T, m *metrics.Metrics, outcome string) int {
	return int(metricstest.Sum(t, m.Registry, "kefu_one_trip_turns_total", outcome))
}

// ask sends one message and returns the texts of its passive replies.
func (e *env) ask(t *testing.T, id, text string) []string {
	t.Helper()
	replies, ok := e.accept(t, e.msg(id, text)).TakePassive(context.Background(), 2*time.Second)
	if !ok {
		t.Fatalf("no passive answer to %q", text)
	}
	return texts(replies)
}

func (e *env) wantOneTrips(t *testing.T, want map[string]int) {
	t.Helper()
	for outcome, n := range want {
		if got := oneTrips(t, e.metrics, outcome); got != n {
			t.Errorf("one-trip turns %s = %d, want %d", outcome, got, n)
		}
	}
}

// A customer's next message is answered in one round trip from the state
// the process committed last; whatever changed in Redis meanwhile (another
// process's turn, a human taking over, deferred replies) sends the turn
// through the two-trip path, which answers from the fresh state. A retry
// is dropped without an answer.
func TestOneTripTurns(t *testing.T) {
	e := setup(t, "onetrip", "passive_budget: 2s")
	ctx := context.Background()
	conv := "fake:onetrip:u1"

	if got := e.ask(t, "m1", "hi"); strings.Join(got, "|") != "hello there" {
		t.Fatalf("first answer %q", got)
	}
	e.wantOneTrips(t, map[string]int{"committed": 0})
	if got := e.ask(t, "m2", "count"); strings.Join(got, "|") != "how many?" {
		t.Fatalf("second answer %q", got)
	}
	e.wantOneTrips(t, map[string]int{"committed": 1})

	// The platform's retry of m2: seen, not answered again.
	retry := e.accept(t, e.msg("m2", "count"))
	if !retry.Duplicate() {
		t.Fatal("a retry answered in one trip was not recognized")
	}
	e.wantOneTrips(t, map[string]int{"duplicate": 1})

	// Another process answers the question meanwhile: this process's state
	// is stale, and the answer comes from the fresh one.
	other, _ := newProcess(t, e.db, e.keys, "onetrip", "passive_budget: 2s", zap.NewNop(), metrics.New())
	turn, err := other.Accept(ctx, e.msg("m3", "3"))
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := turn.TakePassive(ctx, 2*time.Second); len(r) != 1 || r[0].Text != "got 3" {
		t.Fatalf("other process answered %+v", r)
	}
	if got := e.ask(t, "m4", "count"); strings.Join(got, "|") != "how many?" {
		t.Fatalf("after the other process: %q", got)
	}
	e.wantOneTrips(t, map[string]int{"committed": 1, "changed": 1})
	if got := e.ask(t, "m5", "7"); strings.Join(got, "|") != "got 7" {
		t.Fatalf("answer in one trip after the two-trip turn: %q", got)
	}
	e.wantOneTrips(t, map[string]int{"committed": 2, "changed": 1})

	// A deferred reply waits for the customer's next message.
	deferred, _ := json.Marshal(message.Message{ConversationID: conv, Kind: message.KindText, Text: "deferred answer",
		From: message.Party{Role: message.RoleBot}})
	e.db.Client.RPush(ctx, e.keys.Pending(conv), deferred)
	if got := e.ask(t, "m6", "hi"); strings.Join(got, "|") != "deferred answer|hello there" {
		t.Fatalf("with a deferred reply: %q", got)
	}
	e.wantOneTrips(t, map[string]int{"committed": 2, "changed": 2})
	if n, _ := e.db.Client.LLen(ctx, e.keys.Pending(conv)).Result(); n != 0 {
		t.Fatalf("%d deferred replies left", n)
	}

	// A human takes over (the owner is set without a commit).
	e.db.Client.HSet(ctx, e.keys.Conversation(conv), "o", "agent:amy")
	if r, _ := e.accept(t, e.msg("m7", "hi")).TakePassive(ctx, time.Second); len(r) != 0 {
		t.Fatalf("the bot answered a conversation a human owns: %+v", r)
	}
	e.wantOneTrips(t, map[string]int{"committed": 2, "changed": 3})
	e.db.Client.HDel(ctx, e.keys.Conversation(conv), "o")
	e.ask(t, "m8", "hi") // two trips: nothing is kept while a human owns it
	e.ask(t, "m9", "hi")
	e.wantOneTrips(t, map[string]int{"committed": 3, "changed": 3})

	// The transcript holds every message once, in order.
	got := texts(e.transcript(t))
	want := "hi|hello there|count|how many?|3|got 3|count|how many?|7|got 7|hi|hello there|hi|hi|hello there|hi|hello there"
	if strings.Join(got, "|") != want {
		t.Fatalf("transcript\n got %s\nwant %s", strings.Join(got, "|"), want)
	}
}

// An answer that needs I/O (a flow's HTTP step, the fallback) is not
// guessed: the turn runs on the two-trip path, which makes the call once.
func TestOneTripLeavesIOToTheTwoTripPath(t *testing.T) {
	e := setup(t, "onetripio", "passive_budget: 2s")
	e.ask(t, "m1", "hi")
	if got := e.ask(t, "m2", "lookup"); strings.Join(got, "|") != "lookup failed" {
		t.Fatalf("lookup answered %q", got)
	}
	if got := e.ask(t, "m3", "what is this"); len(got) != 1 || got[0] != router.Defaults().FallbackText {
		t.Fatalf("fallback answered %q", got)
	}
	e.wantOneTrips(t, map[string]int{"needs_io": 2, "committed": 0})
	e.ask(t, "m4", "hi")
	e.wantOneTrips(t, map[string]int{"committed": 1})
}

// guardedObserver is a contact observer that remembers one contact, kept
// as the contacts store keeps it (a hash with its version, and the
// sender's identity), which the test changes as another process would.
type guardedObserver struct {
	prefix, cid, ik string
	mu              sync.Mutex
	name            string // what a full observation finds
	known           string // what this process remembers
	pv              string
}

func (o *guardedObserver) key() string { return o.prefix + "c:" + o.cid }

func (o *guardedObserver) ObservePipe(ctx context.Context, pipe redis.Pipeliner, msg message.Message) (func() (router.ContactView, error), error) {
	cmd := pipe.HGet(ctx, o.key(), "pv")
	return func() (router.ContactView, error) {
		o.mu.Lock()
		defer o.mu.Unlock()
		o.known, o.pv = o.name, cmd.Val()
		v := router.ContactView{}
		v.Contact.Name = o.name
		return v, nil
	}, nil
}

func (o *guardedObserver) Recall(msg message.Message) (router.RecalledContact, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.known == "" {
		return router.RecalledContact{}, false
	}
	rec := router.RecalledContact{TouchArgs: []any{o.prefix, time.Now().UnixMilli(), o.cid, o.ik, o.pv}}
	rec.View.Contact.Name = o.known
	return rec, true
}

// A one-trip turn uses the contact the process remembers only while the
// contact's version is the remembered one; changed elsewhere, the turn is
// answered with the contact as observed afresh.
func TestOneTripGuardsTheRememberedContact(t *testing.T) {
	e := setup(t, "onetripcontact", "passive_budget: 2s")
	ctx := context.Background()
	obs := &guardedObserver{prefix: "kefu:test:", cid: "c1", ik: "fake/a/u", name: "小王"}
	e.db.Client.HSet(ctx, obs.key(), "pv", "1", "created", "1")
	e.db.Client.HSet(ctx, obs.key()+":i", obs.ik, `{"last_inbound":1}`)
	e.r.SetContacts(obs)

	e.ask(t, "m1", "hi")
	if got := e.ask(t, "m2", "whoami"); strings.Join(got, "|") != "you are 小王" {
		t.Fatalf("answered %q", got)
	}
	e.wantOneTrips(t, map[string]int{"committed": 1})

	obs.mu.Lock()
	obs.name = "王先生"
	obs.mu.Unlock()
	e.db.Client.HSet(ctx, obs.key(), "pv", "2")
	if got := e.ask(t, "m3", "whoami"); strings.Join(got, "|") != "you are 王先生" {
		t.Fatalf("after the contact changed: %q", got)
	}
	e.wantOneTrips(t, map[string]int{"committed": 1, "changed": 1})
	e.db.Client.Del(ctx, obs.key())
	e.ask(t, "m4", "whoami")
	e.wantOneTrips(t, map[string]int{"committed": 1, "changed": 2})
}

// With TwoTrips set, every turn takes the two-trip path.
func TestTwoTripsConfig(t *testing.T) {
	e := setup(t, "twotrips", "passive_budget: 2s")
	cfg := router.Defaults()
	cfg.TwoTrips = true
	m := metrics.New()
	r, _ := newProcessWith(t, cfg, e.db, e.keys, "twotrips", "passive_budget: 2s", zap.NewNop(), m)
	for _, id := range []string{"m1", "m2", "m3"} {
		turn, err := r.Accept(context.Background(), e.msg(id, "hi"))
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := turn.TakePassive(context.Background(), 2*time.Second); len(got) != 1 || got[0].Text != "hello there" {
			t.Fatalf("answered %+v", got)
		}
	}
	for _, outcome := range []string{"committed", "changed", "duplicate", "needs_io"} {
		if n := oneTrips(t, m, outcome); n != 0 {
			t.Errorf("one-trip turns %s = %d with TwoTrips set", outcome, n)
		}
	}
}
