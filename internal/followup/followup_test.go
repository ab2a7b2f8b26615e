package followup_test

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
	"github.com/kefu-gateway/kefu/adapters/message"
	"github.com/kefu-gateway/kefu/internal/clock"
	"github.com/kefu-gateway/kefu/internal/contacts"
	"github.com/kefu-gateway/kefu/internal/followup"
	"github.com/kefu-gateway/kefu/internal/testutil/fakechannel"
	"github.com/kefu-gateway/kefu/router"
)

// zoneAt returns a fixed zone in which now is about hour:30 local time.
func zoneAt(now time.Time, hour int) string {
	off := (hour - now.UTC().Hour() + 48) % 24 // hours to add to UTC
	if off > 12 {
		off -= 24
	}
	// Etc/GMT signs are inverted: Etc/GMT-8 is UTC+8.
	if off >= 0 {
		return fmt.Sprintf("Etc/GMT-%d", off)
	}
	return fmt.Sprintf("Etc/GMT+%d", -off)
}

// TestFollowups runs every follow-up case on one router, one Redis
// database and one set of workers, each case on its own channel accounts,
// in parallel. Quiet hours are 22:00-08:00 and the default time zone is
// one where it is now early afternoon; a case that wants the night gives
// its contact another zone.
func TestFollowups(t *testing.T) {
	accounts := []string{"effects", "fire", "reply", "tpl", "notpl", "winflip", "quiet", "opt", "owned", "resched", "flow", "retry", "crash", "val"}
	e := setup(t, accounts, func(c *followup.Config) {
		c.WindowFallback = []followup.TemplateFallback{{Channel: fakechannel.Kind, Account: "tpl", TemplateID: "TPL-1",
			URL: "https://shop.example.com/size", Fields: map[string]string{"first": "{{name}}您好", "keyword1": "{{text}}", "keyword2": "{{attr.size}}"}}}
	}, func(c *contacts.Config) {
		c.QuietHours = contacts.QuietHours{Start: "22:00", End: "08:00"}
	})
	for name, fn := range map[string]func(*testing.T, *env){
		"fires after its delay":                      testFiresAfterItsDelay,
		"a reply cancels it":                         testReplyCancels,
		"closed window: template or skipped":         testClosedWindow,
		"the window is judged when it is due":        testWindowJudgedWhenDue,
		"quiet hours defer it":                       testQuietHours,
		"opted out contact gets nothing":             testOptedOut,
		"human-owned conversation":                   testHumanOwned,
		"reschedule replaces, cancel cancels":        testRescheduleAndCancel,
		"flow content starts the flow":               testFlowContent,
		"temporary failures are retried once":        testRetries,
		"interrupted send is not repeated":           testInterrupted,
		"validation and limits":                      testValidation,
		"flow actions reach contacts and follow-ups": testFlowEffects,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fn(t, e)
		})
	}
}

func testFiresAfterItsDelay(t *testing.T, e *env) {
	fake := fakechannel.Get("fire")
	e.say(t, "fire", "u1", "hi")
	// The channel's routing data on the customer's messages goes with the follow-up.
	if _, err := e.contacts.Observe(context.Background(), message.Message{Channel: fakechannel.Kind, Account: "fire", ConversationID: "fake:fire:u1",
		From: message.Party{ID: "u1"}, Kind: message.KindEvent, Meta: map[string]string{"open_kfid": "wk1"}}); err != nil {
		t.Fatal(err)
	}
	const delay = 600 * time.Millisecond
	start := time.Now()
	rec := e.schedule(t, conv("fire", "u1"), followup.Followup{ID: "size-guide", Delay: delay, Text: "尺码表：S/M/L", CancelOnReply: true})
	if rec.Status != followup.StatusScheduled || rec.Gen != 1 || rec.ContactID == "" {
		t.Fatalf("scheduled %+v", rec)
	}
	time.Sleep(time.Until(start.Add(200 * time.Millisecond)))
	sent := fake.Sent()
	// Judged only while the delay has surely not passed: on a machine
	// too busy to get here in time, the follow-up may rightly have gone.
	if time.Since(start) < delay-50*time.Millisecond {
		for _, m := range sent {
			if m.Text == "尺码表：S/M/L" {
				t.Fatal("the follow-up went before its delay")
			}
		}
	}
	got := e.record(t, rec.ContactID, rec.Key, 10*time.Second)
	if got.Status != followup.StatusSent {
		t.Fatalf("follow-up %+v", got)
	}
	sent = nil
	for _, m := range fake.Sent() {
		if m.Text == "尺码表：S/M/L" {
			sent = append(sent, m)
		}
	}
	if len(sent) != 1 || sent[0].To.ID != "u1" || sent[0].From.Role != message.RoleBot || len(sent[0].ID) > 32 || sent[0].Meta["open_kfid"] != "wk1" {
		t.Fatalf("sent %+v", sent)
	}
	if tx := texts(e.transcript(t, "fake:fire:u1")); strings.Join(tx, "|") != "hi|hello there|尺码表：S/M/L" {
		t.Fatalf("transcript %q", tx)
	}
}

func testReplyCancels(t *testing.T, e *env) {
	fake := fakechannel.Get("reply")
	e.say(t, "reply", "u1", "hi")
	c := conv("reply", "u1")
	cancelled := e.schedule(t, c, followup.Followup{ID: "nudge", Delay: 700 * time.Millisecond, Text: "还在考虑吗？", CancelOnReply: true})
	kept := e.schedule(t, c, followup.Followup{ID: "survey", Delay: 700 * time.Millisecond, Text: "请为本次服务打分", CancelOnReply: false})
	e.say(t, "reply", "u1", "hi") // the customer writes before they are due
	if r := e.record(t, cancelled.ContactID, cancelled.Key, 0); r.Status != followup.StatusCancelled || r.Reason != followup.ReasonReplied {
		t.Fatalf("listed after the reply: %+v", r)
	}
	if r := e.record(t, kept.ContactID, kept.Key, 10*time.Second); r.Status != followup.StatusSent {
		t.Fatalf("the follow-up without cancel_on_reply: %+v", r)
	}
	if r := e.record(t, cancelled.ContactID, cancelled.Key, 10*time.Second); r.Status != followup.StatusCancelled || r.Reason != followup.ReasonReplied {
		t.Fatalf("after its time: %+v", r)
	}
	for _, m := range fake.Sent() {
		if m.Text == "还在考虑吗？" {
			t.Fatal("a follow-up the customer replied to was sent")
		}
	}
	// A reply on another channel of the same person (linked contact) counts too.
	e2 := e.schedule(t, c, followup.Followup{ID: "nudge2", Delay: time.Hour, Text: "x", CancelOnReply: true})
	if _, _, err := e.contacts.Link(context.Background(), e2.ContactID, contacts.Identity{Channel: "web", Account: "site", ID: "v1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.contacts.Observe(context.Background(), message.Message{Channel: "web", Account: "site", ConversationID: "web:site:v1",
		From: message.Party{ID: "v1"}, Kind: message.KindText, Text: "我在网页上问"}); err != nil {
		t.Fatal(err)
	}
	if r := e.record(t, e2.ContactID, e2.Key, 0); r.Status != followup.StatusCancelled {
		t.Fatalf("reply on a linked channel: %+v", r)
	}
}

// The window is judged when the follow-up is due, not when it is
// scheduled: one whose window closes meanwhile is skipped, one whose
// window opens meanwhile (the customer wrote) goes.
func testWindowJudgedWhenDue(t *testing.T, e *env) {
	var scheduled atomic.Bool
	fake := fakechannel.Get("winflip")
	fake.SetWindow(func(p message.Party) adapters.Window {
		if (p.ID == "u1") != scheduled.Load() { // u1's closes once both are scheduled, u2's opens
			return adapters.Window{Open: true, Remaining: 5}
		}
		return adapters.Window{Open: false, Remaining: 0, Reason: "48h window closed"}
	})
	closes := e.schedule(t, conv("winflip", "u1"), followup.Followup{ID: "remind", Delay: 2 * time.Second, Text: "您的尺码表"})
	opens := e.schedule(t, conv("winflip", "u2"), followup.Followup{ID: "remind", Delay: 2 * time.Second, Text: "您的尺码表"})
	scheduled.Store(true)
	if r := e.record(t, closes.ContactID, closes.Key, 10*time.Second); r.Status != followup.StatusSkipped || r.Reason != followup.ReasonWindowClosed {
		t.Fatalf("a follow-up whose window closed after it was scheduled: %+v", r)
	}
	if r := e.record(t, opens.ContactID, opens.Key, 10*time.Second); r.Status != followup.StatusSent {
		t.Fatalf("a follow-up whose window opened after it was scheduled: %+v", r)
	}
	if sent := fake.Sent(); len(sent) != 1 || sent[0].To.ID != "u2" {
		t.Fatalf("sent %+v, want the one to u2", sent)
	}
}

func testClosedWindow(t *testing.T, e *env) {
	closed := func(message.Party) adapters.Window {
		return adapters.Window{Open: false, Remaining: 0, Reason: "48h window closed"}
	}
	fakechannel.Get("tpl").SetWindow(closed)
	fakechannel.Get("notpl").SetWindow(closed)
	ctx := context.Background()
	if _, err := e.contacts.UpdateByIdentity(ctx, contacts.Identity{Channel: fakechannel.Kind, Account: "tpl", ID: "u1"},
		contacts.Update{Name: ptr("王女士"), SetAttributes: map[string]string{"size": "M"}}); err != nil {
		t.Fatal(err)
	}
	viaTemplate := e.schedule(t, conv("tpl", "u1"), followup.Followup{ID: "remind", Delay: 50 * time.Millisecond, Text: "您的尺码表"})
	skipped := e.schedule(t, conv("notpl", "u2"), followup.Followup{ID: "remind", Delay: 50 * time.Millisecond, Text: "您的尺码表"})
	flow := e.schedule(t, conv("tpl", "u1"), followup.Followup{ID: "flow", Delay: 50 * time.Millisecond, Flow: "promo"})

	r := e.record(t, viaTemplate.ContactID, viaTemplate.Key, 10*time.Second)
	if r.Status != followup.StatusSent || !r.Template {
		t.Fatalf("with a fallback: %+v", r)
	}
	tpls := fakechannel.Get("tpl").Templates()
	if len(tpls) != 1 || tpls[0].TemplateID != "TPL-1" || tpls[0].Customer.ID != "u1" || tpls[0].URL != "https://shop.example.com/size" ||
		tpls[0].Fields["first"] != "王女士您好" || tpls[0].Fields["keyword1"] != "您的尺码表" || tpls[0].Fields["keyword2"] != "M" {
		t.Fatalf("templates %+v", tpls)
	}
	if n := len(fakechannel.Get("tpl").Sent()); n != 0 {
		t.Fatalf("%d messages sent through a closed window", n)
	}
	r = e.record(t, skipped.ContactID, skipped.Key, 10*time.Second)
	if r.Status != followup.StatusSkipped || r.Reason != followup.ReasonWindowClosed || r.Detail != "48h window closed" {
		t.Fatalf("without a fallback: %+v", r)
	}
	if r := e.record(t, flow.ContactID, flow.Key, 10*time.Second); r.Status != followup.StatusSkipped || r.Reason != followup.ReasonWindowClosed {
		t.Fatalf("a flow cannot go as a template: %+v", r)
	}
	if len(e.flows.list("fake:tpl:")) != 0 || len(fakechannel.Get("notpl").Sent()) != 0 {
		t.Fatal("something went through a closed window")
	}
	// The transcript shows what the customer got.
	if tx := e.transcript(t, "fake:tpl:u1"); len(tx) != 1 || tx[0].Text != "您的尺码表" || tx[0].Meta["template_id"] != "TPL-1" {
		t.Fatalf("transcript %+v", tx)
	}
}

func ptr[T any](v T) *T { return &v }

func testQuietHours(t *testing.T, e *env) {
	ctx := context.Background()
	now := e.clk.Now()
	zone := zoneAt(now, 2)
	loc, _ := time.LoadLocation(zone)
	local := now.In(loc)
	if local.Hour() < 1 || local.Hour() > 3 {
		t.Fatalf("zone %s gives %s", zone, local)
	}
	if _, err := e.contacts.UpdateByIdentity(ctx, contacts.Identity{Channel: fakechannel.Kind, Account: "quiet", ID: "u1"}, contacts.Update{Timezone: &zone}); err != nil {
		t.Fatal(err)
	}
	rec := e.schedule(t, conv("quiet", "u1"), followup.Followup{ID: "night", Delay: 50 * time.Millisecond, Text: "早上好"})
	wantUntil := time.Date(local.Year(), local.Month(), local.Day(), 8, 0, 0, 0, loc)
	var r *followup.Record
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if r = e.record(t, rec.ContactID, rec.Key, 0); r.Deferrals == 1 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if r.Status != followup.StatusScheduled || r.Deferrals != 1 || !r.Due.Equal(wantUntil) || r.Gen != 2 {
		t.Fatalf("in quiet hours: %+v (want due %s)", r, wantUntil)
	}
	if n := len(fakechannel.Get("quiet").Sent()); n != 0 {
		t.Fatal("sent during quiet hours")
	}
	// At 08:00 local the deferred task fires (run here by hand, on a
	// scheduler whose clock says 08:00: asynq would wake it hours from now).
	later := clock.NewFake(wantUntil.Add(time.Second))
	task, _ := followup.NewSendTask(followup.SendPayload{ContactID: rec.ContactID, Key: rec.Key, Gen: 2}, wantUntil)
	if err := e.at(later).ProcessTask(ctx, task); err != nil {
		t.Fatal(err)
	}
	if r := e.record(t, rec.ContactID, rec.Key, 0); r.Status != followup.StatusSent {
		t.Fatalf("after quiet hours: %+v", r)
	}
	// The superseded first-generation task does nothing if it runs again.
	task1, _ := followup.NewSendTask(followup.SendPayload{ContactID: rec.ContactID, Key: rec.Key, Gen: 1}, now)
	if err := e.sched.ProcessTask(ctx, task1); err != nil {
		t.Fatal(err)
	}
	if n := len(fakechannel.Get("quiet").Sent()); n != 1 {
		t.Fatalf("%d sends, want 1", n)
	}
}

func testOptedOut(t *testing.T, e *env) {
	fake := fakechannel.Get("opt")
	c := conv("opt", "u1")
	e.say(t, "opt", "u1", "hi")
	before := e.schedule(t, c, followup.Followup{ID: "before", Delay: 500 * time.Millisecond, Text: "优惠来了", CancelOnReply: false})
	e.say(t, "opt", "u1", "TD")
	e.say(t, "opt", "u1", "退订") // a second opt-out is recorded, not answered again
	after := e.schedule(t, c, followup.Followup{ID: "after", Delay: 50 * time.Millisecond, Text: "新品上架"})
	for _, rec := range []*followup.Record{before, after} {
		if r := e.record(t, rec.ContactID, rec.Key, 10*time.Second); r.Status != followup.StatusSkipped || r.Reason != followup.ReasonOptedOut {
			t.Fatalf("%s: %+v", rec.ID, r)
		}
	}
	confirm := contacts.Defaults().OptOut.ConfirmText
	fake.WaitSent(2, 3*time.Second) // hello there, the confirmation
	time.Sleep(100 * time.Millisecond)
	if got := texts(fake.Sent()); strings.Join(got, "|") != "hello there|"+confirm {
		t.Fatalf("sent %q: the opt-out is confirmed once and nothing else goes", got)
	}
	tx := texts(e.transcript(t, c.ID))
	if strings.Join(tx, "|") != "hi|hello there|TD|"+confirm+"|退订" {
		t.Fatalf("transcript %q: the keywords must be recorded, answered once, never by the flows", tx)
	}
	// 订阅 opts back in; follow-ups go again.
	e.say(t, "opt", "u1", "订阅")
	again := e.schedule(t, c, followup.Followup{ID: "again", Delay: 50 * time.Millisecond, Text: "欢迎回来"})
	if r := e.record(t, again.ContactID, again.Key, 10*time.Second); r.Status != followup.StatusSent {
		t.Fatalf("after 订阅: %+v", r)
	}
}

func testHumanOwned(t *testing.T, e *env) {
	c := conv("owned", "u1")
	rec := e.schedule(t, c, followup.Followup{ID: "x", Delay: 50 * time.Millisecond, Text: "机器人的跟进"})
	e.db.Client.HSet(context.Background(), e.keys.Conversation(c.ID), "o", "agent:amy")
	if r := e.record(t, rec.ContactID, rec.Key, 10*time.Second); r.Status != followup.StatusSkipped || r.Reason != followup.ReasonHumanOwned {
		t.Fatalf("%+v", r)
	}
	// TD while an agent serves: the opt-out applies, the message goes on to
	// the agent's side, and the bot does not answer.
	e.say(t, "owned", "u1", "TD")
	ct, _ := e.contacts.Get(context.Background(), rec.ContactID)
	if !ct.OptedOut {
		t.Fatal("opt-out ignored while an agent serves")
	}
	time.Sleep(200 * time.Millisecond)
	if n := len(fakechannel.Get("owned").Sent()); n != 0 {
		t.Fatalf("the bot sent %d messages into a human-owned conversation", n)
	}
}

func testRescheduleAndCancel(t *testing.T, e *env) {
	fake := fakechannel.Get("resched")
	c := conv("resched", "u1")
	first := e.schedule(t, c, followup.Followup{ID: "promo", Delay: 300 * time.Millisecond, Text: "旧的"})
	second := e.schedule(t, c, followup.Followup{ID: "promo", Delay: 400 * time.Millisecond, Text: "新的"})
	if second.Gen != first.Gen+1 || second.Key != first.Key {
		t.Fatalf("rescheduled %+v after %+v", second, first)
	}
	gone := e.schedule(t, c, followup.Followup{ID: "gone", Delay: 300 * time.Millisecond, Flow: "promo"})
	if ok, err := e.sched.Cancel(context.Background(), c, "gone"); !ok || err != nil {
		t.Fatalf("Cancel = %v %v", ok, err)
	}
	if ok, _ := e.sched.Cancel(context.Background(), c, "gone"); ok {
		t.Fatal("cancelled twice")
	}
	if r := e.record(t, second.ContactID, second.Key, 10*time.Second); r.Status != followup.StatusSent || r.Text != "新的" {
		t.Fatalf("%+v", r)
	}
	time.Sleep(300 * time.Millisecond)
	if got := texts(fake.Sent()); strings.Join(got, "|") != "新的" {
		t.Fatalf("sent %q, want only the replacement", got)
	}
	if r := e.record(t, gone.ContactID, gone.Key, 0); r.Status != followup.StatusCancelled || len(e.flows.list("fake:resched:")) != 0 {
		t.Fatalf("cancelled: %+v, flows %v", r, e.flows.list("fake:resched:"))
	}
	// The replaced task was removed from the queue, not left to wake.
	insp := asynq.NewInspectorFromRedisClient(e.db.Client)
	if _, err := insp.GetTaskInfo("default", followup.TaskID(first.Key, first.Gen)); !errors.Is(err, asynq.ErrTaskNotFound) {
		t.Errorf("superseded task still queued: %v", err)
	}
}

func testFlowContent(t *testing.T, e *env) {
	c := conv("flow", "u1")
	rec := e.schedule(t, c, followup.Followup{ID: "survey", Delay: 50 * time.Millisecond, Flow: "satisfaction_survey"})
	if r := e.record(t, rec.ContactID, rec.Key, 10*time.Second); r.Status != followup.StatusSent {
		t.Fatalf("%+v", r)
	}
	if got := e.flows.list("fake:flow:"); len(got) != 1 || got[0] != "fake:flow:u1→satisfaction_survey" {
		t.Fatalf("flows started: %q", got)
	}
	e.flows.setFail("fake:flow:u2", fmt.Errorf("starting: %w", router.ErrHumanOwned))
	rec = e.schedule(t, conv("flow", "u2"), followup.Followup{ID: "survey2", Delay: 50 * time.Millisecond, Flow: "satisfaction_survey"})
	if r := e.record(t, rec.ContactID, rec.Key, 10*time.Second); r.Status != followup.StatusSkipped || r.Reason != followup.ReasonHumanOwned {
		t.Fatalf("flow refused by a human owner: %+v", r)
	}
}

func testRetries(t *testing.T, e *env) {
	fake := fakechannel.Get("retry")
	fake.SetFail(func(n int, m message.Message) error {
		if n == 1 {
			return errors.New("connection reset")
		}
		return nil
	})
	rec := e.schedule(t, conv("retry", "u1"), followup.Followup{ID: "x", Delay: 10 * time.Millisecond, Text: "再试一次"})
	if r := e.record(t, rec.ContactID, rec.Key, 10*time.Second); r.Status != followup.StatusSent {
		t.Fatalf("%+v", r)
	}
	if fake.Attempts() != 2 || len(fake.Sent()) != 1 {
		t.Fatalf("%d attempts, %d sent", fake.Attempts(), len(fake.Sent()))
	}
	fake.SetFail(func(int, message.Message) error { return fmt.Errorf("errcode 45015: %w", adapters.ErrWindowClosed) })
	rec = e.schedule(t, conv("retry", "u1"), followup.Followup{ID: "y", Delay: 10 * time.Millisecond, Text: "窗口关了"})
	if r := e.record(t, rec.ContactID, rec.Key, 10*time.Second); r.Status != followup.StatusSkipped || r.Reason != followup.ReasonWindowClosed {
		t.Fatalf("platform says the window closed: %+v", r)
	}
	fake.SetFail(func(int, message.Message) error { return fmt.Errorf("errcode 40003: %w", adapters.ErrPermanent) })
	rec = e.schedule(t, conv("retry", "u1"), followup.Followup{ID: "z", Delay: 10 * time.Millisecond, Text: "坏的"})
	if r := e.record(t, rec.ContactID, rec.Key, 10*time.Second); r.Status != followup.StatusFailed || r.Reason != followup.ReasonPlatform {
		t.Fatalf("permanent platform error: %+v", r)
	}
}

func testInterrupted(t *testing.T, e *env) {
	ctx := context.Background()
	rec := e.schedule(t, conv("crash", "u1"), followup.Followup{ID: "x", Delay: time.Hour, Text: "一次"})
	// A worker claimed it and died before finishing.
	key := e.contacts.Keys().Followups(rec.ContactID)
	raw, _ := e.db.Client.HGet(ctx, key, rec.Key).Result()
	e.db.Client.HSet(ctx, key, rec.Key, strings.Replace(raw, `"status":"scheduled"`, `"status":"sending"`, 1))
	task, _ := followup.NewSendTask(followup.SendPayload{ContactID: rec.ContactID, Key: rec.Key, Gen: rec.Gen}, time.Now())
	if err := e.sched.ProcessTask(ctx, task); err != nil {
		t.Fatal(err)
	}
	if r := e.record(t, rec.ContactID, rec.Key, 0); r.Status != followup.StatusFailed || r.Reason != followup.ReasonInterrupted {
		t.Fatalf("%+v", r)
	}
	if n := fakechannel.Get("crash").Attempts(); n != 0 {
		t.Fatalf("sent %d times", n)
	}
}

func testValidation(t *testing.T, e *env) {
	c := conv("val", "u1")
	for _, tc := range []struct {
		f     followup.Followup
		field string
	}{
		{followup.Followup{Delay: time.Hour, Text: "x"}, "id"},
		{followup.Followup{ID: "a|b", Delay: time.Hour, Text: "x"}, "id"},
		{followup.Followup{ID: "a", Text: "x"}, "delay"},
		{followup.Followup{ID: "a", Delay: time.Hour, At: time.Now(), Text: "x"}, "delay"},
		{followup.Followup{ID: "a", Delay: 100 * 24 * time.Hour, Text: "x"}, "delay"},
		{followup.Followup{ID: "a", Delay: time.Hour}, "text"},
		{followup.Followup{ID: "a", Delay: time.Hour, Text: "x", Flow: "y"}, "text"},
	} {
		var ve *followup.ValidationError
		if _, err := e.sched.Schedule(context.Background(), c, tc.f); !errors.As(err, &ve) || ve.Field != tc.field {
			t.Errorf("%+v: %v, want a %s error", tc.f, err, tc.field)
		}
	}
	max := followup.Defaults().MaxPerContact
	for i := 0; i < max; i++ {
		e.schedule(t, c, followup.Followup{ID: fmt.Sprint(i), Delay: time.Hour, Text: "x"})
	}
	e.schedule(t, c, followup.Followup{ID: "0", Delay: time.Hour, Text: "replacing is fine"})
	if _, err := e.sched.Schedule(context.Background(), c, followup.Followup{ID: "one more", Delay: time.Hour, Text: "x"}); !errors.Is(err, followup.ErrLimit) {
		t.Fatalf("pending follow-up %d: %v", max+1, err)
	}
}

func testFlowEffects(t *testing.T, e *env) {
	e.say(t, "effects", "u1", "尺码")
	ctx := context.Background()
	// The turn's effects run one after another once it committed: wait
	// for the last of them (the follow-up), not just the first.
	var c *contacts.Contact
	var recs []*followup.Record
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		var err error
		if c, err = e.contacts.ByIdentity(ctx, contacts.Identity{Channel: fakechannel.Kind, Account: "effects", ID: "u1"}); err == nil && c.HasTag("问过尺码") {
			if recs, _ = e.sched.List(ctx, c.ID); len(recs) > 0 {
				break
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	if c == nil || c.Attributes["size_asked"] != "yes" || !c.HasTag("问过尺码") {
		t.Fatalf("contact after the flow: %+v", c)
	}
	if len(recs) != 1 || recs[0].ID != "size-guide" || recs[0].Status != followup.StatusScheduled || recs[0].Source != "flow" ||
		recs[0].Due.Sub(recs[0].Created) != time.Hour {
		t.Fatalf("follow-ups after the flow: %+v", recs)
	}
	e.say(t, "effects", "u1", "不用了")
	deadline = time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if recs, _ = e.sched.List(ctx, c.ID); recs[0].Status == followup.StatusCancelled {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	c, _ = e.contacts.Get(ctx, c.ID)
	if recs[0].Status != followup.StatusCancelled || recs[0].Reason != followup.ReasonCancelled || c.HasTag("问过尺码") {
		t.Fatalf("after 不用了: %+v, tags %v", recs[0], c.Tags)
	}
}
