package followup_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/kefu-gateway/kefu/internal/testutil/fakechannel"
	"github.com/kefu-gateway/kefu/internal/testutil/metricstest"
	"github.com/kefu-gateway/kefu/router"

	"github.com/kefu-gateway/kefu/adapters/message"
	"github.com/kefu-gateway/kefu/internal/contacts"
	"github.com/kefu-gateway/kefu/internal/followup"
	"github.com/kefu-gateway/kefu/internal/store"
	"github.com/kefu-gateway/kefu/internal/testutil/redistest"
)

// A Redis that restarted (or had SCRIPT FLUSH) answers the observation's
// script hash with NOSCRIPT: the observer observes the slow way, which
// loads the script again, and the turn still gets the contact. The test
// has a Redis of its own (the embedded one), so flushing scripts disturbs
// no other test.
func TestObserverAfterRedisForgetsItsScripts(t *testing.T) {
	rdb := redistest.Private(t).Client
	cfg := contacts.Defaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	o := &followup.Observer{Contacts: contacts.NewStore(rdb, store.Keys{Prefix: "t:"}, cfg, nil)}
	ctx := context.Background()
	msg := message.Message{ID: "m1", Channel: "wechat_oa", Account: "oa", ConversationID: "wechat_oa:oa:o1",
		From: message.Party{ID: "o1", Role: message.RoleCustomer}, Kind: message.KindText, Text: "你好"}
	var first string
	for i := range 3 {
		if i > 0 {
			if err := rdb.ScriptFlush(ctx).Err(); err != nil {
				t.Fatal(err)
			}
		}
		pipe := rdb.Pipeline()
		read, err := o.ObservePipe(ctx, pipe, msg)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = pipe.Exec(ctx) // the script's NOSCRIPT is read by read()
		v, err := read()
		if err != nil {
			t.Fatalf("observation %d after SCRIPT FLUSH: %v", i, err)
		}
		if v.Contact.ID == "" || (first != "" && v.Contact.ID != first) {
			t.Fatalf("observation %d: contact %q, first %q", i, v.Contact.ID, first)
		}
		first = v.Contact.ID
	}
}

// A returning customer's one-trip turn observes the contact inside its
// commit: the contact's and the identity's last inbound move with the
// turn, counted as a times-only observation. A contact changed by another
// process refuses that commit; the turn then observes in full and answers
// with the contact as it now is.
func TestOneTripTurnsObserveTheContact(t *testing.T) {
	e := setup(t, []string{"ot"}, nil, nil)
	// The contact observer instead of the engage interceptor: the router
	// answers returning customers in one trip.
	e.r.SetHooks(router.Hooks{Effects: &followup.Effects{Scheduler: e.sched, Contacts: e.contacts}})
	e.r.SetContacts(&followup.Observer{Contacts: e.contacts, Metrics: e.metrics})
	cs, clk, m, r := e.contacts, e.clk, e.metrics, e.r
	cc := contacts.Defaults()
	if err := cc.Validate(); err != nil {
		t.Fatal(err)
	}
	other := contacts.NewStore(e.db.Client, e.keys, cc, clk) // another process's

	ident := contacts.Identity{Channel: fakechannel.Kind, Account: "ot", ID: "u1"}
	ask := func(text string) string {
		t.Helper()
		msg := message.Message{ID: fmt.Sprintf("ot-%d", msgSeq.Add(1)), Channel: fakechannel.Kind, Account: "ot",
			ConversationID: "fake:ot:u1", From: message.Party{ID: "u1"}, Kind: message.KindText, Text: text}
		turn, err := r.Accept(context.Background(), msg)
		if err != nil {
			t.Fatal(err)
		}
		<-turn.Done()
		c, err := cs.ByIdentity(context.Background(), ident)
		if err != nil {
			t.Fatal(err)
		}
		id, _ := c.Identity(fakechannel.Kind, "ot")
		if now := clk.Now().UnixMilli(); c.LastInbound.UnixMilli() != now || id.LastInbound.UnixMilli() != now {
			t.Fatalf("after %q: contact last inbound %v, identity's %v; want %v", text, c.LastInbound, id.LastInbound, clk.Now())
		}
		tr := e.transcript(t, "fake:ot:u1")
		if len(tr) == 0 || tr[len(tr)-1].IsCustomer() {
			t.Fatalf("%q was not answered", text)
		}
		return tr[len(tr)-1].Text
	}
	timesOnly := func() float64 {
		return metricstest.Sum(t, m.Registry, "kefu_contact_observations_total", contacts.ObservedTimesOnly)
	}
	oneTripTurns := func(outcome string) float64 {
		return metricstest.Sum(t, m.Registry, "kefu_one_trip_turns_total", outcome)
	}

	ask("hi")
	c, err := cs.ByIdentity(context.Background(), ident)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cs.Update(context.Background(), c.ID, contacts.Update{Name: new("小王")}); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		clk.Advance(time.Minute)
		if got := ask("whoami"); got != "you are 小王" {
			t.Fatalf("turn %d answered %q", i, got)
		}
	}
	if n := timesOnly(); n != 3 {
		t.Fatalf("%v times-only observations, want 3 (one per one-trip turn)", n)
	}
	if n := oneTripTurns("committed"); n != 3 {
		t.Fatalf("%v one-trip turns committed, want 3", n)
	}

	if _, err := other.Update(context.Background(), c.ID, contacts.Update{Name: new("王先生")}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute)
	if got := ask("whoami"); got != "you are 王先生" {
		t.Fatalf("after another process renamed the contact: %q", got)
	}
	if n := oneTripTurns("changed"); n != 1 {
		t.Fatalf("%v one-trip turns refused as changed, want 1", n)
	}
}
