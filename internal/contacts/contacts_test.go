package contacts_test

import (
	"context"
	"errors"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/kefu-gateway/kefu/adapters/message"
	"github.com/kefu-gateway/kefu/internal/clock"
	"github.com/kefu-gateway/kefu/internal/contacts"
	"github.com/kefu-gateway/kefu/internal/store"
	"github.com/kefu-gateway/kefu/internal/testutil/redistest"
)

var t0 = time.Date(2025, 3, 10, 10, 0, 0, 0, time.UTC)

type env struct {
	s   *contacts.Store
	db  *redistest.DB
	clk *clock.Fake
}

func setup(t *testing.T, mod func(*contacts.Config)) *env {
	t.Helper()
	return setupTB(t, mod)
}

func setupB(b *testing.B) *env { return setupTB(b, nil) }

func setupTB(t testing.TB, mod func(*contacts.Config)) *env {
	t.Helper()
	db := redistest.New(t)
	cfg := contacts.Defaults()
	if mod != nil {
		mod(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	clk := clock.NewFake(t0)
	return &env{s: contacts.NewStore(db.Client, store.Keys{Prefix: "kefu:"}, cfg, clk), db: db, clk: clk}
}

func inbound(channel, account, user, union, text string) message.Message {
	return message.Message{ID: "m", Channel: channel, Account: account, ConversationID: channel + ":" + account + ":" + user,
		From: message.Party{ID: user, UnionID: union, Name: "小王", Role: message.RoleCustomer}, Kind: message.KindText, Text: text}
}

func (e *env) observe(t *testing.T, m message.Message) *contacts.Observation {
	t.Helper()
	o, err := e.s.Observe(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func TestObserveCreatesOneContactPerIdentity(t *testing.T) {
	e := setup(t, nil)
	a := e.observe(t, inbound("wechat_oa", "shop", "oA", "", "你好"))
	if !a.Created || a.Contact.ID == "" || a.Contact.Name != "小王" || len(a.Contact.Identities) != 1 {
		t.Fatalf("first message: %+v", a)
	}
	id := a.Contact.Identities[0]
	if id.Channel != "wechat_oa" || id.Account != "shop" || id.ID != "oA" || id.ConversationID != "wechat_oa:shop:oA" || !id.LastInbound.Equal(t0) {
		t.Fatalf("identity %+v", id)
	}
	e.clk.Advance(time.Minute)
	b := e.observe(t, inbound("wechat_oa", "shop", "oA", "", "在吗"))
	if b.Created || b.Contact.ID != a.Contact.ID {
		t.Fatalf("second message made another contact: %+v", b)
	}
	if !b.Contact.FirstSeen.Equal(t0) || !b.Contact.LastSeen.Equal(t0.Add(time.Minute)) || !b.Contact.LastInbound.After(a.Contact.LastInbound) {
		t.Fatalf("seen times: %+v", b.Contact)
	}
	// The same time on a clock that lags still moves last inbound forward:
	// follow-ups compare it to know a reply came.
	e.clk.Advance(-time.Hour)
	c := e.observe(t, inbound("wechat_oa", "shop", "oA", "", "?"))
	if !c.Contact.LastInbound.After(b.Contact.LastInbound) || !c.Contact.LastSeen.Equal(b.Contact.LastSeen) {
		t.Fatalf("lagging clock: last inbound %s after %s, last seen %s", c.Contact.LastInbound, b.Contact.LastInbound, c.Contact.LastSeen)
	}
	kf := inbound("wecom_kf", "kf", "wmX", "", "hi")
	kf.Meta = map[string]string{"open_kfid": "wkABC", "msgtype": "text"}
	if o := e.observe(t, kf); len(o.Contact.Identities) != 1 || o.Contact.Identities[0].Meta["open_kfid"] != "wkABC" {
		t.Fatalf("routing meta not kept: %+v", o.Contact.Identities)
	}
	other := e.observe(t, inbound("wechat_oa", "shop", "oB", "", "hi"))
	if other.Contact.ID == a.Contact.ID {
		t.Fatal("two customers share a contact")
	}
	// Non-customer messages (an event the bot sent, an agent) do not count as inbound.
	m := inbound("wechat_oa", "shop", "oB", "", "hi")
	m.From.Role = message.RoleAgent
	if o := e.observe(t, m); !o.Contact.LastInbound.Equal(other.Contact.LastInbound) {
		t.Error("an agent's message moved the customer's last inbound")
	}
	if _, err := e.s.Observe(context.Background(), message.Message{Channel: "web"}); err == nil {
		t.Error("a message without sender accepted")
	}
}

func TestUnionIDLinksOfficialAccountAndMiniProgram(t *testing.T) {
	e := setup(t, nil)
	oa := e.observe(t, inbound("wechat_oa", "shop", "oOA", "uX", "hi"))
	mp := e.observe(t, inbound("wechat_mp", "app", "oMP", "uX", "hi"))
	if mp.Created || mp.Contact.ID != oa.Contact.ID || len(mp.Contact.Identities) != 2 || mp.Contact.UnionID != "uX" {
		t.Fatalf("mini-program identity not linked: %+v", mp.Contact)
	}
	// An identity first seen without its UnionID becomes its own contact;
	// when the UnionID shows up the two are merged into the UnionID's one.
	early := e.observe(t, inbound("wechat_mp", "app2", "oMP2", "", "hi"))
	if _, err := e.s.Update(context.Background(), early.Contact.ID, contacts.Update{AddTags: []string{"早鸟"}}); err != nil {
		t.Fatal(err)
	}
	late := e.observe(t, inbound("wechat_mp", "app2", "oMP2", "uX", "hi again"))
	if late.Contact.ID != oa.Contact.ID || len(late.Contact.Identities) != 3 || !late.Contact.HasTag("早鸟") {
		t.Fatalf("after the UnionID appeared: %+v", late.Contact)
	}
	if c, err := e.s.Get(context.Background(), early.Contact.ID); err != nil || c.ID != oa.Contact.ID {
		t.Fatalf("the merged-away id must lead to the merged contact: %+v %v", c, err)
	}
	if page, _ := e.s.Search(context.Background(), contacts.Query{Tags: []string{"早鸟"}}); len(page.Contacts) != 1 || page.Contacts[0].ID != oa.Contact.ID {
		t.Fatalf("tag index after merge: %+v", page)
	}
	// Returning customers, linked already (the script's short path), with
	// and without the UnionID on the message.
	for _, m := range []message.Message{inbound("wechat_oa", "shop", "oOA", "uX", "again"), inbound("wechat_mp", "app2", "oMP2", "", "again")} {
		e.clk.Advance(time.Minute)
		again := e.observe(t, m)
		id, _ := again.Contact.Identity(m.Channel, m.Account)
		if again.Created || again.Contact.ID != oa.Contact.ID || len(again.Contact.Identities) != 3 || !again.Contact.HasTag("早鸟") ||
			!id.LastInbound.Equal(e.clk.Now().Truncate(time.Millisecond)) || id.ConversationID != m.ConversationID || again.Contact.UnionID != "uX" {
			t.Fatalf("returning %s: %+v (identity %+v)", m.From.ID, again.Contact, id)
		}
	}
}

func TestOptOutKeywordsConfirmOnce(t *testing.T) {
	e := setup(t, nil)
	o := e.observe(t, inbound("wechat_oa", "shop", "o1", "", "ＴＤ"))
	if o.Action != contacts.OptOut || !o.Changed || o.WasOptedOut || !o.Contact.OptedOut || o.Contact.OptOutSource != "keyword" {
		t.Fatalf("first TD: %+v %+v", o, o.Contact)
	}
	o = e.observe(t, inbound("wechat_oa", "shop", "o1", "", "退订"))
	if o.Action != contacts.OptOut || o.Changed || !o.WasOptedOut {
		t.Fatalf("second 退订 must not change anything: %+v", o)
	}
	o = e.observe(t, inbound("wechat_oa", "shop", "o1", "", "不要退订"))
	if o.Action != contacts.OptNone || !o.Contact.OptedOut {
		t.Fatalf("a sentence is not a keyword: %+v", o)
	}
	o = e.observe(t, inbound("wechat_oa", "shop", "o1", "", "订阅"))
	if o.Action != contacts.OptIn || !o.Changed || o.Contact.OptedOut {
		t.Fatalf("订阅: %+v", o)
	}
	o = e.observe(t, inbound("wechat_oa", "shop", "o1", "", "订阅"))
	if o.Changed {
		t.Fatal("订阅 from someone not opted out changed consent")
	}
}

func TestClassify(t *testing.T) {
	c := contacts.Defaults().OptOut
	for _, tc := range []struct {
		text string
		want contacts.OptAction
	}{
		{"退订", contacts.OptOut}, {" td ", contacts.OptOut}, {"TD。", contacts.OptOut}, {"ｓｔｏｐ！", contacts.OptOut},
		{"Stop", contacts.OptOut}, {"unsubscribe", contacts.OptOut}, {"订阅", contacts.OptIn}, {"start", contacts.OptIn},
		{"不要退订", contacts.OptNone}, {"stop sending", contacts.OptNone}, {"", contacts.OptNone}, {"。。", contacts.OptNone},
		{"TDD", contacts.OptNone}, {strings.Repeat("退订", 200), contacts.OptNone},
	} {
		if got := c.Classify(tc.text); got != tc.want {
			t.Errorf("Classify(%q) = %q, want %q", tc.text, got, tc.want)
		}
	}
}

func FuzzClassify(f *testing.F) {
	c := contacts.Defaults().OptOut
	for _, s := range []string{"退订", "ＴＤ", "stop!", "订阅", "", "\xff\xfe", "T D"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a := c.Classify(s)
		if a != contacts.OptNone && a != contacts.OptOut && a != contacts.OptIn {
			t.Fatalf("Classify(%q) = %q", s, a)
		}
		if a == contacts.OptOut && c.Classify(" "+s+"。") != contacts.OptOut {
			t.Fatalf("%q opts out but not with spaces and punctuation around it", s)
		}
	})
}

func TestUpdateTagsAttributesNotesAndLimits(t *testing.T) {
	e := setup(t, func(c *contacts.Config) { c.MaxTags, c.MaxAttributes, c.MaxNotes = 3, 2, 2 })
	ctx := context.Background()
	id := e.observe(t, inbound("web", "demo", "v1", "", "hi")).Contact.ID
	name, tz := "王女士", "Europe/Berlin"
	c, err := e.s.Update(ctx, id, contacts.Update{Name: &name, Timezone: &tz, SetAttributes: map[string]string{"size": "M"},
		AddTags: []string{"vip", "问过尺码"}, Note: &contacts.Note{Author: "amy", Text: "想要M码"}})
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "王女士" || c.PlatformName != "小王" || c.Timezone != tz || c.Attributes["size"] != "M" || len(c.Tags) != 2 || len(c.Notes) != 1 || c.Notes[0].Author != "amy" {
		t.Fatalf("after update: %+v", c)
	}
	// Over the tag bound: refused and nothing written.
	_, err = e.s.Update(ctx, id, contacts.Update{AddTags: []string{"a", "b"}, SetAttributes: map[string]string{"x": "1"}})
	var le *contacts.LimitError
	if !errors.As(err, &le) || le.What != "tags" || le.Max != 3 {
		t.Fatalf("too many tags: %v", err)
	}
	// Adding one while removing one stays within it.
	c, err = e.s.Update(ctx, id, contacts.Update{AddTags: []string{"a", "b"}, RemoveTags: []string{"vip"}})
	if err != nil || strings.Join(c.Tags, ",") != "a,b,问过尺码" || c.Attributes["x"] != "" {
		t.Fatalf("swap tags: %+v %v", c, err)
	}
	if _, err := e.s.Update(ctx, id, contacts.Update{SetAttributes: map[string]string{"y": "1", "z": "2"}}); !errors.As(err, &le) || le.What != "attributes" {
		t.Fatalf("too many attributes: %v", err)
	}
	for i := 0; i < 3; i++ {
		e.clk.Advance(time.Second)
		c, err = e.s.Update(ctx, id, contacts.Update{Note: &contacts.Note{Text: "note " + string(rune('a'+i))}, UnsetAttributes: []string{"size"}})
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(c.Notes) != 2 || c.Notes[0].Text != "note c" || c.Notes[1].Text != "note b" || len(c.Attributes) != 0 {
		t.Fatalf("notes capped newest first, attribute removed: %+v", c)
	}
	if page, _ := e.s.Search(ctx, contacts.Query{Tags: []string{"vip"}}); len(page.Contacts) != 0 {
		t.Fatal("a removed tag still finds the contact")
	}
	for _, bad := range []contacts.Update{
		{AddTags: []string{"has space"}}, {AddTags: []string{""}}, {SetAttributes: map[string]string{"bad key": "v"}},
		{Timezone: ptr("Mars/Olympus")}, {Note: &contacts.Note{Text: "  "}}, {AddTags: []string{"x"}, RemoveTags: []string{"x"}},
		{SetAttributes: map[string]string{"k": strings.Repeat("v", 2000)}},
	} {
		var ve *contacts.ValidationError
		if _, err := e.s.Update(ctx, id, bad); !errors.As(err, &ve) {
			t.Errorf("update %+v: %v, want a validation error", bad, err)
		}
	}
	if _, err := e.s.Update(ctx, "cnope", contacts.Update{AddTags: []string{"x"}}); !errors.Is(err, contacts.ErrNotFound) {
		t.Errorf("unknown contact: %v", err)
	}
	out := true
	c, err = e.s.Update(ctx, id, contacts.Update{OptOut: &out, Source: "agent:amy"})
	if err != nil || !c.OptedOut || c.OptOutSource != "agent:amy" {
		t.Fatalf("opt out by an agent: %+v %v", c, err)
	}
}

func ptr[T any](v T) *T { return &v }

func TestUpdateByIdentityCreatesTheContact(t *testing.T) {
	e := setup(t, nil)
	ctx := context.Background()
	ident := contacts.Identity{Channel: "wecom_kf", Account: "kf", ID: "wmX", ConversationID: "wecom_kf:kf:wmX"}
	c, err := e.s.UpdateByIdentity(ctx, ident, contacts.Update{SetAttributes: map[string]string{"city": "上海"}})
	if err != nil || c.Attributes["city"] != "上海" || len(c.Identities) != 1 || c.Identities[0].ConversationID != ident.ConversationID {
		t.Fatalf("%+v %v", c, err)
	}
	again, err := e.s.ByIdentity(ctx, ident)
	if err != nil || again.ID != c.ID {
		t.Fatalf("ByIdentity: %+v %v", again, err)
	}
	if _, err := e.s.ByIdentity(ctx, contacts.Identity{Channel: "web", Account: "x", ID: "nobody"}); !errors.Is(err, contacts.ErrNotFound) {
		t.Fatalf("unknown identity: %v", err)
	}
}

func TestLinkMergesContacts(t *testing.T) {
	e := setup(t, nil)
	ctx := context.Background()
	web := e.observe(t, inbound("web", "demo", "v1", "", "hi")).Contact
	e.clk.Advance(time.Hour)
	oa := e.observe(t, inbound("wechat_oa", "shop", "oA", "", "TD")).Contact
	_, _ = e.s.Update(ctx, web.ID, contacts.Update{SetAttributes: map[string]string{"size": "M", "city": "北京"}, AddTags: []string{"web"}})
	_, _ = e.s.Update(ctx, oa.ID, contacts.Update{SetAttributes: map[string]string{"size": "L"}, AddTags: []string{"oa"}, Note: &contacts.Note{Text: "公众号来的"}})
	e.db.Client.HSet(ctx, e.s.Keys().Followups(oa.ID), "wechat_oa:shop:oA|size-guide", `{"status":"scheduled"}`)

	c, merged, err := e.s.Link(ctx, web.ID, contacts.Identity{Channel: "wechat_oa", Account: "shop", ID: "oA"})
	if err != nil || merged != oa.ID {
		t.Fatalf("Link = %v, merged %q", err, merged)
	}
	if len(c.Identities) != 2 || strings.Join(c.Tags, ",") != "oa,web" || c.Attributes["size"] != "M" || c.Attributes["city"] != "北京" ||
		len(c.Notes) != 1 || !c.OptedOut || !c.FirstSeen.Equal(t0) || !c.LastSeen.Equal(t0.Add(time.Hour)) {
		t.Fatalf("merged contact: %+v", c)
	}
	if n, _ := e.db.Client.HLen(ctx, e.s.Keys().Followups(web.ID)).Result(); n != 1 {
		t.Errorf("follow-ups moved: %d", n)
	}
	if got, err := e.s.ByIdentity(ctx, contacts.Identity{Channel: "wechat_oa", Account: "shop", ID: "oA"}); err != nil || got.ID != web.ID {
		t.Fatalf("identity index after merge: %+v %v", got, err)
	}
	if page, _ := e.s.Search(ctx, contacts.Query{Channel: "wechat_oa"}); len(page.Contacts) != 1 || page.Contacts[0].ID != web.ID {
		t.Fatalf("channel index after merge: %+v", page.Contacts)
	}
	if n, _ := e.db.Client.ZCard(ctx, e.s.Keys().Seen()).Result(); n != 1 {
		t.Errorf("%d contacts in the seen index after a merge, want 1", n)
	}
	// Linking a fresh identity only adds it.
	c, merged, err = e.s.Link(ctx, web.ID, contacts.Identity{Channel: "wechat_mp", Account: "app", ID: "oMP", UnionID: "uY"})
	if err != nil || merged != "" || len(c.Identities) != 3 || c.UnionID != "uY" {
		t.Fatalf("link new identity: %+v %q %v", c, merged, err)
	}
	if mp := e.observe(t, inbound("wechat_mp", "app3", "oMP3", "uY", "hi")); mp.Contact.ID != web.ID {
		t.Fatal("a UnionID linked by an operator does not find the contact")
	}
	if _, _, err := e.s.Link(ctx, "cnope", contacts.Identity{Channel: "web", Account: "a", ID: "b"}); !errors.Is(err, contacts.ErrNotFound) {
		t.Errorf("link to unknown contact: %v", err)
	}
	var ve *contacts.ValidationError
	if _, _, err := e.s.Link(ctx, web.ID, contacts.Identity{Channel: "web", Account: "a/b", ID: "c"}); !errors.As(err, &ve) {
		t.Errorf("identity with a slash: %v", err)
	}
}

func TestSearch(t *testing.T) {
	e := setup(t, nil)
	ctx := context.Background()
	var items []contacts.ImportItem
	for i := 0; i < 120; i++ {
		tags := []string{"all"}
		if i%2 == 0 {
			tags = append(tags, "even")
		}
		if i%3 == 0 {
			tags = append(tags, "three")
		}
		ch := "web"
		if i%4 == 0 {
			ch = "wechat_oa"
		}
		items = append(items, contacts.ImportItem{Identity: contacts.Identity{Channel: ch, Account: "a", ID: "u" + string(rune('A'+i%26)) + string(rune('a'+i/26))},
			Update: contacts.Update{AddTags: tags}})
	}
	ids, err := e.s.Import(ctx, items)
	if err != nil || len(ids) != 120 {
		t.Fatal(err)
	}
	collect := func(q contacts.Query) []string {
		var got []string
		for {
			p, err := e.s.Search(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range p.Contacts {
				got = append(got, c.ID)
			}
			if p.Next == "" {
				break
			}
			q.Cursor = p.Next
		}
		sort.Strings(got)
		return got
	}
	want := func(pred func(i int) bool) []string {
		var out []string
		for i, id := range ids {
			if pred(i) {
				out = append(out, id)
			}
		}
		sort.Strings(out)
		return out
	}
	for name, tc := range map[string]struct {
		q    contacts.Query
		pred func(int) bool
	}{
		"one tag":         {contacts.Query{Tags: []string{"even"}, Limit: 7}, func(i int) bool { return i%2 == 0 }},
		"two tags":        {contacts.Query{Tags: []string{"even", "three"}, Limit: 5}, func(i int) bool { return i%6 == 0 }},
		"tag and channel": {contacts.Query{Tags: []string{"three"}, Channel: "wechat_oa"}, func(i int) bool { return i%12 == 0 }},
		"everyone":        {contacts.Query{Limit: 50}, func(int) bool { return true }},
		"unknown tag":     {contacts.Query{Tags: []string{"nope"}}, func(int) bool { return false }},
	} {
		if got, w := collect(tc.q), want(tc.pred); strings.Join(got, ",") != strings.Join(w, ",") {
			t.Errorf("%s: %d contacts, want %d", name, len(got), len(w))
		}
	}
	if _, err := e.s.Search(ctx, contacts.Query{Tags: []string{"x"}, Cursor: "abc"}); err == nil {
		t.Error("bad cursor accepted")
	}
}

func TestReadPipeJoinsAnotherPipeline(t *testing.T) {
	e := setup(t, nil)
	ctx := context.Background()
	id := e.observe(t, inbound("web", "demo", "v9", "", "hi")).Contact.ID
	pipe := e.db.Client.Pipeline()
	other := pipe.Set(ctx, "kefu:other", "1", time.Minute)
	known := e.s.ReadPipe(ctx, pipe, "web", "demo", "v9")
	unknown := e.s.ReadPipe(ctx, pipe, "web", "demo", "nobody")
	if _, err := pipe.Exec(ctx); err != nil && !strings.Contains(err.Error(), "nil") {
		t.Fatal(err)
	}
	c, err := known.Result()
	if err != nil || c == nil || c.ID != id || other.Err() != nil {
		t.Fatalf("known: %+v %v", c, err)
	}
	if c, err := unknown.Result(); c != nil || err != nil {
		t.Fatalf("unknown: %+v %v", c, err)
	}
}

func TestObservePipeJoinsTheFirstRoundTrip(t *testing.T) {
	e := setup(t, nil)
	ctx := context.Background()
	pipe := e.db.Client.Pipeline()
	seen := pipe.SetNX(ctx, "kefu:dedup:x", 1, time.Minute)
	cmd, err := e.s.ObservePipe(ctx, pipe, inbound("web", "demo", "v1", "", "TD"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	o, err := cmd.Result(ctx)
	if err != nil || !seen.Val() || !o.Created || o.Action != contacts.OptOut || !o.Changed || !o.Contact.OptedOut {
		t.Fatalf("%+v %v", o, err)
	}
	if _, err := e.s.ObservePipe(ctx, pipe, message.Message{Channel: "web"}); err == nil {
		t.Fatal("a message without sender accepted")
	}
}
