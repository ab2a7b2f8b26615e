package contacts

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kefu-gateway/kefu/adapters/message"
	"github.com/kefu-gateway/kefu/internal/clock"
	"github.com/kefu-gateway/kefu/internal/store"
	"github.com/kefu-gateway/kefu/internal/testutil/redistest"
	"github.com/redis/go-redis/v9"
)

// twoProcesses is two contact stores on one Redis, as two kefu processes
// have, sharing a fake clock.
type twoProcesses struct {
	a, b *Store
	rdb  redis.UniversalClient
	clk  *clock.Fake
}

func newTwoProcesses(t *testing.T) *twoProcesses {
	t.Helper()
	db := redistest.New(t)
	cfg := Defaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	clk := clock.NewFake(time.Date(2025, 3, 10, 10, 0, 0, 0, time.UTC))
	keys := store.Keys{Prefix: "kefu:"}
	return &twoProcesses{a: NewStore(db.Client, keys, cfg, clk), b: NewStore(db.Client, keys, cfg, clk), rdb: db.Client, clk: clk}
}

func customerText(user, text string) message.Message {
	return message.Message{ID: "m", Channel: "wechat_oa", Account: "oa", ConversationID: "wechat_oa:oa:" + user,
		From: message.Party{ID: user, Role: message.RoleCustomer}, Kind: message.KindText, Text: text}
}

// observePiped observes msg as the router does and reports whether only
// the times were written (touchScript found the remembered contact).
func observePiped(t *testing.T, s *Store, msg message.Message) (*Observation, bool) {
	t.Helper()
	ctx := context.Background()
	pipe := s.rdb.Pipeline()
	cmd, err := s.ObservePipe(ctx, pipe, msg)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = pipe.Exec(ctx) // a script's error is read by Result
	o, err := cmd.Result(ctx)
	if err != nil {
		t.Fatal(err)
	}
	touched := cmd.touched != nil && cmd.cmd.Val() == int64(1)
	want := ObservedFull
	switch {
	case touched:
		want = ObservedTimesOnly
	case cmd.touched != nil:
		want = ObservedChanged
	}
	if o.Path != want {
		t.Fatalf("observation path %q, want %q", o.Path, want)
	}
	return o, touched
}

// newCustomer has user write "你好" through process a, which creates and
// remembers their contact, and returns the message and the contact's id.
func (p *twoProcesses) newCustomer(t *testing.T, user string) (message.Message, string) {
	t.Helper()
	msg := customerText(user, "你好")
	o, touched := observePiped(t, p.a, msg)
	if touched || !o.Created {
		t.Fatalf("first message: touched %v, %+v", touched, o)
	}
	return msg, o.Contact.ID
}

func (p *twoProcesses) field(t *testing.T, cid, field string) string {
	t.Helper()
	v, err := p.rdb.HGet(context.Background(), "kefu:{ct}:c:"+cid, field).Result()
	if err != nil && err != redis.Nil {
		t.Fatal(err)
	}
	return v
}

func TestARememberedCustomerOnlyMovesTheTimes(t *testing.T) {
	p := newTwoProcesses(t)
	msg, cid := p.newCustomer(t, "o1")
	pv := p.field(t, cid, "pv")
	for i := 1; i <= 3; i++ {
		p.clk.Advance(time.Minute)
		o, touched := observePiped(t, p.a, msg)
		if !touched || o.Created || o.Contact.ID != cid {
			t.Fatalf("message %d: touched %v, %+v", i, touched, o)
		}
		now := p.clk.Now().UnixMilli()
		for _, f := range []string{"lin", "last"} {
			if got := p.field(t, cid, f); got != itoa(now) {
				t.Fatalf("message %d: %s = %s, want %d", i, f, got, now)
			}
		}
		if s, err := p.rdb.ZScore(context.Background(), "kefu:{ct}:seen", cid).Result(); err != nil || int64(s) != now {
			t.Fatalf("message %d: seen score %v %v", i, s, err)
		}
		c, err := p.a.Get(context.Background(), cid)
		if err != nil || len(c.Identities) != 1 || !c.Identities[0].LastInbound.Equal(p.clk.Now().Truncate(time.Millisecond)) ||
			c.Identities[0].ConversationID != msg.ConversationID {
			t.Fatalf("message %d: identity %+v %v", i, c, err)
		}
	}
	// The identity's last inbound moved in the contact's hash; its record
	// was left as the full observation wrote it.
	rec, err := p.rdb.HGet(context.Background(), "kefu:{ct}:c:"+cid+":i", "wechat_oa/oa/o1").Result()
	if err != nil || !strings.Contains(rec, `"last_inbound":`+itoa(p.clk.Now().Add(-3*time.Minute).UnixMilli())) {
		t.Fatalf("the identity's record %s (%v) was rewritten", rec, err)
	}
	// A record without last_inbound, or with routing meta that names one,
	// still gets the right time.
	ctx := context.Background()
	ik := "wechat_oa/oa/o1"
	for _, rec := range []string{
		`{"channel":"wechat_oa","account":"oa","id":"o1","conversation_id":"wechat_oa:oa:o1"}`,
		`{"meta":{"last_inbound":"7","x":"\\\"last_inbound\":1"},"channel":"wechat_oa","account":"oa","id":"o1","conversation_id":"wechat_oa:oa:o1","last_inbound":5}`,
	} {
		if err := p.rdb.HSet(ctx, "kefu:{ct}:c:"+cid+":i", ik, rec).Err(); err != nil {
			t.Fatal(err)
		}
		p.clk.Advance(time.Minute)
		if _, touched := observePiped(t, p.a, msg); !touched {
			t.Fatal("not touched")
		}
		c, err := p.a.Get(ctx, cid)
		if err != nil || !c.Identities[0].LastInbound.Equal(p.clk.Now().Truncate(time.Millisecond)) {
			t.Fatalf("record %s: %+v %v", rec, c, err)
		}
		if strings.Contains(rec, "meta") && (c.Identities[0].Meta["last_inbound"] != "7" || c.Identities[0].Meta["x"] != `\"last_inbound":1`) {
			t.Fatalf("meta changed: %+v", c.Identities[0].Meta)
		}
	}

	// Only changes bump the version: a full observation that changes
	// nothing leaves it, so processes never invalidate each other.
	if _, err := p.b.Observe(ctx, msg); err != nil {
		t.Fatal(err)
	}
	if got := p.field(t, cid, "pv"); got != pv {
		t.Fatalf("pv %q after an observation that changed nothing, was %q", got, pv)
	}
	if _, touched := observePiped(t, p.a, msg); !touched {
		t.Fatal("another process's observation made this one observe in full")
	}
}

// An identity moved by a merge keeps the last inbound its returning
// customer's messages moved (kept in the contact's hash, see TouchLua).
func TestAMergeKeepsTheIdentitysLastInbound(t *testing.T) {
	p := newTwoProcesses(t)
	ctx := context.Background()
	msg, a := p.newCustomer(t, "o1")
	p.clk.Advance(time.Minute)
	if _, touched := observePiped(t, p.a, msg); !touched {
		t.Fatal("not touched")
	}
	touchedAt := p.clk.Now().Truncate(time.Millisecond)
	p.clk.Advance(time.Minute)
	mp := message.Message{ID: "m", Channel: "wechat_mp", Account: "mp", ConversationID: "wechat_mp:mp:m1",
		From: message.Party{ID: "m1", Role: message.RoleCustomer}, Kind: message.KindText, Text: "你好"}
	o, err := p.b.Observe(ctx, mp)
	if err != nil || o.Contact.ID == a {
		t.Fatalf("the mini-program customer: %+v %v", o, err)
	}
	b := o.Contact.ID
	c, merged, err := p.b.Link(ctx, b, Identity{Channel: "wechat_oa", Account: "oa", ID: "o1"})
	if err != nil || merged != a {
		t.Fatalf("linking: merged %q, %v", merged, err)
	}
	id, ok := c.Identity("wechat_oa", "oa")
	if !ok || !id.LastInbound.Equal(touchedAt) {
		t.Fatalf("the moved identity %+v (%v): last inbound %v, want %v", id, ok, id.LastInbound, touchedAt)
	}
	if got, err := p.a.Get(ctx, b); err != nil || !got.LastInbound.Equal(p.clk.Now().Truncate(time.Millisecond)) {
		t.Fatalf("the merged contact: %+v %v", got, err)
	}
}

func TestChangesElsewhereReachARememberedContact(t *testing.T) {
	p := newTwoProcesses(t)
	ctx := context.Background()
	msg, cid := p.newCustomer(t, "o2")

	// Another process tags the customer and names them.
	name := "王先生"
	if _, err := p.b.Update(ctx, cid, Update{Name: &name, AddTags: []string{"vip"}, SetAttributes: map[string]string{"city": "杭州"}}); err != nil {
		t.Fatal(err)
	}
	o, touched := observePiped(t, p.a, msg)
	if touched || o.Contact.Name != name || !o.Contact.HasTag("vip") || o.Contact.Attributes["city"] != "杭州" {
		t.Fatalf("after another process's update: touched %v, %+v", touched, o.Contact)
	}
	// A change this process makes is remembered with it: the next message
	// only moves the times, and sees the change.
	if _, err := p.a.UpdateByIdentity(ctx, Identity{Channel: "wechat_oa", Account: "oa", ID: "o2"}, Update{AddTags: []string{"回访"}}); err != nil {
		t.Fatal(err)
	}
	o, touched = observePiped(t, p.a, msg)
	if !touched || !o.Contact.HasTag("回访") || !o.Contact.HasTag("vip") {
		t.Fatalf("after this process's update: touched %v, %+v", touched, o.Contact)
	}
	// What is remembered shares nothing with what callers got: neither the
	// update's result nor a hit, changed, changes the next hit.
	updated, err := p.a.UpdateByIdentity(ctx, Identity{Channel: "wechat_oa", Account: "oa", ID: "o2"}, Update{})
	if err != nil {
		t.Fatal(err)
	}
	updated.Attributes["city"] = "changed"
	// Hits hand out copies: changing one does not change the next.
	o.Contact.Attributes["city"] = "changed"
	o.Contact.Tags[0] = "changed"
	o, _ = observePiped(t, p.a, msg)
	if o.Contact.Attributes["city"] != "杭州" || o.Contact.HasTag("changed") {
		t.Fatalf("a caller changed the remembered contact: %+v", o.Contact)
	}

	// The contact is merged into another: the identity follows it.
	other, err := p.b.Observe(ctx, customerText("o3", "你好"))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := p.b.Link(ctx, other.Contact.ID, Identity{Channel: "wechat_oa", Account: "oa", ID: "o2"}); err != nil {
		t.Fatal(err)
	}
	o, touched = observePiped(t, p.a, msg)
	if touched || o.Contact.ID != other.Contact.ID || !o.Contact.HasTag("vip") {
		t.Fatalf("after a merge: touched %v, %+v", touched, o.Contact)
	}
	if p.field(t, cid, "lin") != "" {
		t.Fatal("the merged-away contact was written to")
	}
}

// An update that changes nothing (the tag already there, the same name and
// attribute, consent as it was) leaves pv alone, so other processes go on
// moving only the times; each op that changes something bumps it.
func TestOnlyAChangingUpdateBumpsTheVersion(t *testing.T) {
	p := newTwoProcesses(t)
	ctx := context.Background()
	msg, cid := p.newCustomer(t, "o6")
	name, tz := "王先生", "Asia/Shanghai"
	first := Update{Name: &name, Timezone: &tz, AddTags: []string{"vip"}, SetAttributes: map[string]string{"city": "杭州"},
		OptOut: new(false)}
	if _, err := p.b.Update(ctx, cid, first); err != nil {
		t.Fatal(err)
	}
	observePiped(t, p.a, msg)
	if _, touched := observePiped(t, p.a, msg); !touched {
		t.Fatal("the process does not remember the contact")
	}
	pv := p.field(t, cid, "pv")
	for _, u := range []Update{first, {RemoveTags: []string{"never-set"}, UnsetAttributes: []string{"never-set"}}} {
		if _, err := p.b.Update(ctx, cid, u); err != nil {
			t.Fatal(err)
		}
		if got := p.field(t, cid, "pv"); got != pv {
			t.Fatalf("%+v changed nothing but moved pv %s → %s", u, pv, got)
		}
	}
	if _, touched := observePiped(t, p.a, msg); !touched {
		t.Fatal("an update that changed nothing made the other process observe in full")
	}
	other := "杭州市"
	for _, u := range []Update{
		{AddTags: []string{"回访"}}, {RemoveTags: []string{"回访"}}, {SetAttributes: map[string]string{"city": other}},
		{UnsetAttributes: []string{"city"}}, {Name: &other}, {Timezone: new("UTC")}, {OptOut: new(true)}, {OptOut: new(false)},
		{Note: &Note{Text: "来电"}},
	} {
		if _, err := p.b.Update(ctx, cid, u); err != nil {
			t.Fatal(err)
		}
		got := p.field(t, cid, "pv")
		if got == pv {
			t.Fatalf("%+v changed the contact but not pv (%s)", u, pv)
		}
		pv = got
	}
}

func TestWhatTheTimesCannotCarryIsObservedInFull(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		change func(*message.Message)
		check  func(t *testing.T, p *twoProcesses, o *Observation)
	}{
		{"opt-out keyword", func(m *message.Message) { m.Text = "退订" }, func(t *testing.T, p *twoProcesses, o *Observation) {
			if !o.Changed || !o.Contact.OptedOut || o.Action != OptOut {
				t.Fatalf("%+v", o)
			}
		}},
		{"platform name", func(m *message.Message) { m.From.Name = "小李" }, func(t *testing.T, p *twoProcesses, o *Observation) {
			if o.Contact.Name != "小李" {
				t.Fatalf("%+v", o.Contact)
			}
		}},
		{"routing meta", func(m *message.Message) { m.Meta = map[string]string{"open_kfid": "wk1"} }, func(t *testing.T, p *twoProcesses, o *Observation) {
			c, err := p.a.Get(ctx, o.Contact.ID)
			if err != nil || c.Identities[0].Meta["open_kfid"] != "wk1" {
				t.Fatalf("%+v %v", c, err)
			}
		}},
		{"conversation", func(m *message.Message) { m.ConversationID = "wechat_oa:oa:o4:2" }, func(t *testing.T, p *twoProcesses, o *Observation) {
			c, err := p.a.Get(ctx, o.Contact.ID)
			if err != nil || c.Identities[0].ConversationID != "wechat_oa:oa:o4:2" {
				t.Fatalf("%+v %v", c, err)
			}
		}},
		{"UnionID", func(m *message.Message) { m.From.UnionID = "u4" }, func(t *testing.T, p *twoProcesses, o *Observation) {
			if o.Contact.UnionID != "u4" {
				t.Fatalf("%+v", o.Contact)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newTwoProcesses(t)
			msg, cid := p.newCustomer(t, "o4")
			// The other process comes to remember the contact too.
			observePiped(t, p.b, msg)
			if _, touched := observePiped(t, p.b, msg); !touched {
				t.Fatal("the other process does not remember the contact")
			}
			pv := p.field(t, cid, "pv")
			changed := msg
			tc.change(&changed)
			o, touched := observePiped(t, p.a, changed)
			if touched {
				t.Fatal("observed by the times only")
			}
			tc.check(t, p, o)
			if p.field(t, cid, "pv") == pv {
				t.Fatal("the change did not bump the version")
			}
			// The other process remembered the old contact: it must not
			// write over the change with the times only.
			if _, touched := observePiped(t, p.b, msg); touched {
				t.Fatal("the other process went on with what it remembered")
			}
		})
	}
}

func TestAVanishedContactIsNotWrittenByTheTimes(t *testing.T) {
	p := newTwoProcesses(t)
	ctx := context.Background()
	msg, cid := p.newCustomer(t, "o5")
	if err := p.rdb.Del(ctx, "kefu:{ct}:c:"+cid).Err(); err != nil {
		t.Fatal(err)
	}
	o, touched := observePiped(t, p.a, msg)
	if touched || o.Contact.ID == "" {
		t.Fatalf("touched %v, %+v", touched, o.Contact)
	}
	if o.Contact.ID != cid && p.field(t, cid, "lin") != "" {
		t.Fatal("the vanished contact's hash was written again")
	}
}

func TestRememberedContactsAreBounded(t *testing.T) {
	r := newRecentContacts()
	for i := range recentContactsMax + 10 {
		r.put(itoa(int64(i)), &recentContact{contact: &Contact{ID: "c"}})
	}
	if len(r.m) != recentContactsMax {
		t.Fatalf("%d remembered, want %d", len(r.m), recentContactsMax)
	}
	// An older version never replaces a newer one.
	r.put("x", &recentContact{version: "5", contact: &Contact{ID: "c"}})
	r.put("x", &recentContact{version: "4", contact: &Contact{ID: "c"}})
	if r.get("x").version != "5" {
		t.Fatalf("version %q", r.get("x").version)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// Recall gives, without Redis, the contact a remembered sender's next
// observation finds, and that observation's arguments: TouchLua's check
// holds with them exactly while that contact is unchanged in Redis, and
// then only the times move.
func TestRecallIsGuardedByTheContactsVersion(t *testing.T) {
	p := newTwoProcesses(t)
	ctx := context.Background()
	check := redis.NewScript(TouchLua + `return contact_touch_check(ARGV[1], ARGV[3], ARGV[4], ARGV[5]) and 1 or 0`)
	holds := func(r *Recalled) bool {
		n, err := check.Run(ctx, p.rdb, []string{p.a.keys.Slot()}, r.TouchArgs()...).Int()
		if err != nil {
			t.Fatal(err)
		}
		return n == 1
	}
	msg := customerText("u1", "你好")
	if _, ok := p.a.Recall(msg); ok {
		t.Fatal("recalled a sender never observed")
	}
	msg, cid := p.newCustomer(t, "u1")
	// Named by this process: what it remembers follows.
	if _, err := p.a.Update(ctx, cid, Update{Name: new("小王")}); err != nil {
		t.Fatal(err)
	}
	r, ok := p.a.Recall(msg)
	if !ok || r.Contact.ID != cid || r.Contact.Name != "小王" || !holds(r) {
		t.Fatalf("recall after the first observation: %+v %v", r, ok)
	}
	pv := p.field(t, cid, "pv")
	p.clk.Advance(time.Minute)
	if n, err := touchScript.Run(ctx, p.rdb, []string{p.a.keys.Slot()}, r.TouchArgs()...).Int(); err != nil || n != 1 {
		t.Fatalf("the recalled observation: %d %v", n, err)
	}
	if got := p.field(t, cid, "lin"); got != itoa(p.clk.Now().UnixMilli()) || p.field(t, cid, "pv") != pv {
		t.Fatalf("the recalled observation moved lin to %s (pv %s, was %s)", got, p.field(t, cid, "pv"), pv)
	}

	// What would change more than the times is not recalled.
	for name, m := range map[string]message.Message{
		"opt-out keyword":  customerText("u1", "退订"),
		"new conversation": func() message.Message { m := msg; m.ConversationID = "elsewhere"; return m }(),
		"new name":         func() message.Message { m := msg; m.From.Name = "小王"; return m }(),
	} {
		if _, ok := p.a.Recall(m); ok {
			t.Errorf("%s recalled", name)
		}
	}

	// Another process changes the contact: the guard no longer holds.
	if _, err := p.b.Update(ctx, cid, Update{Name: new("王先生")}); err != nil {
		t.Fatal(err)
	}
	if holds(r) {
		t.Fatal("the guard holds after another process's update")
	}
}

// An update by identity that a limit refuses has still recorded the
// identity's conversation: processes remembering the contact must observe
// it again, not just move the times.
func TestARefusedUpdateByIdentityStillInvalidates(t *testing.T) {
	p := newTwoProcesses(t)
	ctx := context.Background()
	msg, _ := p.newCustomer(t, "u1")
	tags := make([]string, Defaults().MaxTags+1)
	for i := range tags {
		tags[i] = "t" + strconv.Itoa(i)
	}
	ident := Identity{Channel: msg.Channel, Account: msg.Account, ID: msg.From.ID, ConversationID: "elsewhere"}
	var limit *LimitError
	if _, err := p.b.UpdateByIdentity(ctx, ident, Update{AddTags: tags}); !errors.As(err, &limit) {
		t.Fatalf("update beyond the tag limit: %v", err)
	}
	if o, touched := observePiped(t, p.a, msg); touched || o.Path != ObservedChanged {
		t.Fatalf("after the refused update: touched %v, path %q", touched, o.Path)
	}
	c, err := p.a.ByIdentity(ctx, Identity{Channel: msg.Channel, Account: msg.Account, ID: msg.From.ID})
	if err != nil || len(c.Identities) != 1 || c.Identities[0].ConversationID != msg.ConversationID {
		t.Fatalf("the identity's conversation after the next message: %+v %v", c, err)
	}
}
