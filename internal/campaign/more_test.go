package campaign_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/kefu-gateway/kefu/internal/campaign"
	"github.com/kefu-gateway/kefu/internal/clock"
	"github.com/kefu-gateway/kefu/internal/contacts"
	"github.com/kefu-gateway/kefu/internal/followup"
	"github.com/kefu-gateway/kefu/internal/ratelimit"
	"github.com/kefu-gateway/kefu/internal/testutil/fakechannel"
	"github.com/redis/go-redis/v9"
)

func run(t *testing.T, e *env, def campaign.Definition) *campaign.Progress {
	t.Helper()
	p, err := e.svc.Create(context.Background(), def)
	if err != nil {
		t.Fatal(err)
	}
	return e.wait(t, p.ID, 30*time.Second, "completion", func(p *campaign.Progress) bool { return p.IsFinal() })
}

func recipients(account string) string {
	return strings.Join(sortedUsers(account), ",")
}

func sortedUsers(account string) []string {
	var users []string
	for u := range perRecipient(account) {
		users = append(users, u)
	}
	sort.Strings(users)
	return users
}

func TestCampaignAudience(t *testing.T) {
	t.Parallel()
	e := setup(t, []string{"a1", "a2"}, options{})
	e.startWorkers(t, 4, time.Second)
	ctx := context.Background()
	// u00000-u00009 on a1, tags by number; u00000-u00004 also on a2.
	tags := map[int][]string{0: {"a"}, 1: {"b"}, 2: {"a", "b"}, 3: {"a", "x"}, 4: {}, 5: {"a"}, 6: {"b"}, 7: {"a", "b"}, 8: {"x"}, 9: {"a"}}
	ids := e.seed(t, "a1", 10, func(i int, u *contacts.Update) { u.AddTags = tags[i] })
	for i := 0; i < 5; i++ {
		if _, _, err := e.contacts.Link(ctx, ids[i], contacts.Identity{Channel: fakechannel.Kind, Account: "a2", ID: userID(i)}); err != nil {
			t.Fatal(err)
		}
	}
	// u00009 was last seen 40 days ago.
	old := float64(time.Now().Add(-40 * 24 * time.Hour).UnixMilli())
	e.db.Client.ZAdd(ctx, e.contacts.Keys().Seen(), redis.Z{Score: old, Member: ids[9]})

	cases := []struct {
		name    string
		aud     campaign.Audience
		account string
		want    string
	}{
		{"any of two tags", campaign.Audience{Tags: []string{"a", "b"}, Channel: "fake", Account: "a1"}, "a1", "u00000,u00001,u00002,u00003,u00005,u00006,u00007,u00009"},
		{"all of two tags", campaign.Audience{Tags: []string{"a", "b"}, Match: "all", Channel: "fake", Account: "a1"}, "a1", "u00002,u00007"},
		{"excluded tag", campaign.Audience{Tags: []string{"a"}, ExcludeTags: []string{"x"}, Channel: "fake", Account: "a1"}, "a1", "u00000,u00002,u00005,u00007,u00009"},
		{"active within 30 days", campaign.Audience{Tags: []string{"a"}, ActiveWithinDays: 30, Channel: "fake", Account: "a1"}, "a1", "u00000,u00002,u00003,u00005,u00007"},
		{"one account of the channel", campaign.Audience{Tags: []string{"a"}, Channel: "fake", Account: "a2"}, "a2", "u00000,u00002,u00003"},
		{"the channel, no tags", campaign.Audience{Channel: "fake", Account: "a2"}, "a2", "u00000,u00001,u00002,u00003,u00004"},
		{"everyone but x", campaign.Audience{Everyone: true, ExcludeTags: []string{"x"}, ActiveWithinDays: 30}, "", "u00000,u00001,u00002,u00004,u00005,u00006,u00007"},
		// Without a channel each contact is reached where they wrote last:
		// contacts on both accounts get one message, not two.
		{"tag b wherever they are", campaign.Audience{Tags: []string{"b"}}, "", "u00001,u00002,u00006,u00007"},
		{"nobody", campaign.Audience{Tags: []string{"nobody-has-this"}}, "", ""},
	}
	// The campaigns run side by side; each one's text tells its messages apart.
	ps := make([]*campaign.Progress, len(cases))
	for i, tc := range cases {
		p, err := e.svc.Create(ctx, campaign.Definition{Name: tc.name, Audience: tc.aud, Content: followup.Content{Text: tc.name}})
		if err != nil {
			t.Fatal(err)
		}
		ps[i] = p
	}
	for i, tc := range cases {
		p := e.wait(t, ps[i].ID, 30*time.Second, tc.name, func(p *campaign.Progress) bool { return p.IsFinal() })
		var users []string
		for _, acct := range []string{"a1", "a2"} {
			for _, m := range fakechannel.Get(acct).Sent() {
				if m.Text == tc.name && (tc.account == "" || tc.account == acct) {
					users = append(users, m.To.ID)
				}
			}
		}
		sort.Strings(users)
		want := int64(0)
		if tc.want != "" {
			want = int64(strings.Count(tc.want, ",") + 1)
		}
		if got := strings.Join(users, ","); got != tc.want || p.Sent != want || p.Total != want || p.Status != campaign.StatusCompleted {
			t.Errorf("%s: sent to %s (%+v), want %s", tc.name, got, p, tc.want)
		}
	}
}

func TestCampaignSkipsHumanOwnedAndStartsFlows(t *testing.T) {
	t.Parallel()
	e := setup(t, []string{"fl"}, options{})
	e.startWorkers(t, 4, time.Second)
	ids := e.seed(t, "fl", 5, func(i int, u *contacts.Update) { u.AddTags = []string{"t"} })
	_ = ids
	e.db.Client.HSet(context.Background(), e.keys.Conversation("fake:fl:"+userID(2)), "o", "agent:amy")
	p := run(t, e, campaign.Definition{Name: "flow", Audience: campaign.Audience{Tags: []string{"t"}}, Content: followup.Content{Flow: "promo"}})
	if p.Sent != 4 || p.SkippedBy[followup.ReasonHumanOwned] != 1 {
		t.Fatalf("%+v", p)
	}
	started := e.flows.list()
	sort.Strings(started)
	if len(started) != 4 || started[0] != "fake:fl:u00000→promo" || strings.Contains(strings.Join(started, ","), userID(2)) {
		t.Fatalf("flows started: %q", started)
	}
	if _, err := e.svc.Create(context.Background(), campaign.Definition{Name: "x", Audience: campaign.Audience{Tags: []string{"t"}},
		Content: followup.Content{Flow: "no-such-flow"}}); err == nil {
		t.Fatal("a campaign naming an unknown flow was accepted")
	}
}

func TestCampaignQuietHoursDeferRecipients(t *testing.T) {
	t.Parallel()
	now := time.Now()
	day, night, evening := zoneAt(now, 14), zoneAt(now, 2), zoneAt(now, 23)
	e := setup(t, []string{"qh"}, options{contacts: func(c *contacts.Config) {
		c.QuietHours = contacts.QuietHours{Start: "22:00", End: "08:00"}
		c.Timezone = day
	}})
	e.startWorkers(t, 4, time.Second)
	e.seed(t, "qh", 4, func(i int, u *contacts.Update) {
		u.AddTags = []string{"t"}
		switch i {
		case 1:
			u.Timezone = &night
		case 3:
			u.Timezone = &evening
		}
	})
	ctx := context.Background()
	p, err := e.svc.Create(ctx, campaign.Definition{Name: "q", Audience: campaign.Audience{Tags: []string{"t"}}, Content: followup.Content{Text: "早安"}})
	if err != nil {
		t.Fatal(err)
	}
	p = e.wait(t, p.ID, 10*time.Second, "2 sent, 2 deferred", func(p *campaign.Progress) bool { return p.Sent == 2 && p.Deferred == 2 })
	if p.Status != campaign.StatusRunning || p.Queued != 0 {
		t.Fatalf("%+v", p)
	}
	if got := recipients("qh"); got != "u00000,u00002" {
		t.Fatalf("sent during someone's night: %s", got)
	}
	// A pause and resume moves the campaign to a new generation: the
	// deferred recipients must still be woken.
	if _, err := e.svc.Pause(ctx, p.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Resume(ctx, p.ID); err != nil {
		t.Fatal(err)
	}
	// At 08:00 in the night zone the wake-up task runs (by hand here, on a
	// service whose clock says so: asynq would wake it hours from now).
	morning := func(zone string) time.Time {
		loc, _ := time.LoadLocation(zone)
		l := now.In(loc)
		m := time.Date(l.Year(), l.Month(), l.Day(), 8, 0, 0, 0, loc)
		if !m.After(now) {
			m = m.AddDate(0, 0, 1)
		}
		return m
	}
	first, second := morning(night), morning(evening)
	at := first.Add(time.Second)
	task, _ := campaign.NewBatchTask(campaign.BatchPayload{ID: p.ID, Gen: 2, Later: true}, at)
	if err := e.with(clock.NewFake(at)).Handlers()[campaign.TypeBatch].ProcessTask(ctx, task); err != nil {
		t.Fatal(err)
	}
	p = e.wait(t, p.ID, 5*time.Second, "the night zone sent", func(p *campaign.Progress) bool { return p.Sent == 3 })
	if p.Deferred != 1 || recipients("qh") != "u00000,u00001,u00002" {
		t.Fatalf("after the first morning: %+v", p)
	}
	// The wake-up for the other zone's morning was queued by the first one.
	insp := asynq.NewInspectorFromRedisClient(e.db.Client)
	next := fmt.Sprintf("campaign:%s:2:later:%d", p.ID, second.Unix()/60)
	if _, err := insp.GetTaskInfo("low", next); err != nil {
		t.Fatalf("no wake-up queued for %s: %v", second, err)
	}
	at = second.Add(time.Second)
	task, _ = campaign.NewBatchTask(campaign.BatchPayload{ID: p.ID, Gen: 2, Later: true}, at)
	if err := e.with(clock.NewFake(at)).Handlers()[campaign.TypeBatch].ProcessTask(ctx, task); err != nil {
		t.Fatal(err)
	}
	p = e.wait(t, p.ID, 5*time.Second, "completion", func(p *campaign.Progress) bool { return p.IsFinal() })
	if p.Sent != 4 || p.Deferred != 0 || p.Status != campaign.StatusCompleted {
		t.Fatalf("after both mornings: %+v", p)
	}
}

func zoneAt(now time.Time, hour int) string {
	off := (hour - now.UTC().Hour() + 48) % 24
	if off > 12 {
		off -= 24
	}
	if off >= 0 {
		return fmt.Sprintf("Etc/GMT-%d", off)
	}
	return fmt.Sprintf("Etc/GMT+%d", -off)
}

func TestCampaignRateLimits(t *testing.T) {
	t.Parallel()
	e := setup(t, []string{"rl", "rl2"}, options{limits: ratelimit.Config{Channels: []ratelimit.ChannelLimit{
		{Channel: "fake", Account: "rl2", Rate: ratelimit.Rate{Events: 20, Per: time.Second, Burst: 1}}}}})
	e.startWorkers(t, 8, time.Second)
	e.seed(t, "rl", 12, func(i int, u *contacts.Update) { u.AddTags = []string{"t"} })
	rate := ratelimit.Rate{Events: 20, Per: time.Second, Burst: 1}
	start := time.Now()
	p := run(t, e, campaign.Definition{Name: "own rate", Audience: campaign.Audience{Tags: []string{"t"}}, Content: followup.Content{Text: "x"}, Rate: &rate})
	// 12 sends at 20/s without burst take at least 11 intervals of 50ms.
	if el := time.Since(start); p.Sent != 12 || el < 540*time.Millisecond {
		t.Fatalf("campaign rate 20/s: %d sent in %s", p.Sent, el)
	}
	if p.Rate != "20/s burst 1" {
		t.Errorf("progress rate %q", p.Rate)
	}
	e.seed(t, "rl2", 12, func(i int, u *contacts.Update) { u.AddTags = []string{"t2"} })
	start = time.Now()
	p = run(t, e, campaign.Definition{Name: "channel rate", Audience: campaign.Audience{Tags: []string{"t2"}}, Content: followup.Content{Text: "x"},
		Rate: &ratelimit.Unlimited})
	if el := time.Since(start); p.Sent != 12 || el < 540*time.Millisecond {
		t.Fatalf("channel limit 20/s: %d sent in %s", p.Sent, el)
	}
}

func TestCampaignControl(t *testing.T) {
	t.Parallel()
	e := setup(t, []string{"ctl"}, options{})
	e.startWorkers(t, 4, time.Second)
	ctx := context.Background()
	e.seed(t, "ctl", 300, func(i int, u *contacts.Update) { u.AddTags = []string{"t"} })
	at := time.Now().Add(time.Hour)
	def := campaign.Definition{ID: "later-1", Name: "later", Audience: campaign.Audience{Tags: []string{"t"}}, Content: followup.Content{Text: "x"}, ScheduleAt: &at}
	p, err := e.svc.Create(ctx, def)
	if err != nil || p.Status != campaign.StatusScheduled || p.ScheduleAt == nil {
		t.Fatalf("%+v %v", p, err)
	}
	if _, err := e.svc.Create(ctx, def); !errors.Is(err, campaign.ErrExists) {
		t.Fatalf("same id again: %v", err)
	}
	if p, err = e.svc.Pause(ctx, "later-1"); err != nil || p.Status != campaign.StatusPaused {
		t.Fatalf("pause a scheduled campaign: %+v %v", p, err)
	}
	if p, err = e.svc.Resume(ctx, "later-1"); err != nil || p.Status != campaign.StatusScheduled {
		t.Fatalf("resume it: %+v %v", p, err)
	}
	if p, err = e.svc.Cancel(ctx, "later-1"); err != nil || p.Status != campaign.StatusCancelled || p.Total != 0 {
		t.Fatalf("cancel it: %+v %v", p, err)
	}
	var se *campaign.StateError
	if _, err := e.svc.Resume(ctx, "later-1"); !errors.As(err, &se) || se.Status != campaign.StatusCancelled {
		t.Fatalf("resume a cancelled campaign: %v", err)
	}
	if _, err := e.svc.Pause(ctx, "nope"); !errors.Is(err, campaign.ErrNotFound) {
		t.Fatalf("pause an unknown campaign: %v", err)
	}

	// Cancel mid-run: nothing goes after it, and every recipient is counted.
	fakechannel.Get("ctl").SetDelay(2 * time.Millisecond)
	p, err = e.svc.Create(ctx, campaign.Definition{Name: "now", Audience: campaign.Audience{Tags: []string{"t"}}, Content: followup.Content{Text: "x"}})
	if err != nil {
		t.Fatal(err)
	}
	e.wait(t, p.ID, 10*time.Second, "some sent", func(p *campaign.Progress) bool { return p.Sent >= 20 })
	if _, err := e.svc.Cancel(ctx, p.ID); err != nil {
		t.Fatal(err)
	}
	p = e.wait(t, p.ID, 10*time.Second, "in-flight sends to settle", func(p *campaign.Progress) bool { return p.Sending == 0 })
	time.Sleep(200 * time.Millisecond)
	final, _ := e.svc.Get(ctx, p.ID)
	if final.Status != campaign.StatusCancelled || final.Sent != int64(len(fakechannel.Get("ctl").Sent())) ||
		final.Sent+final.Skipped != 300 || final.SkippedBy[followup.ReasonCancelled] != 300-final.Sent || final.Sent >= 300 {
		t.Fatalf("after cancel: %+v (%d at the platform)", final, len(fakechannel.Get("ctl").Sent()))
	}
	list, err := e.svc.List(ctx, 10)
	if err != nil || len(list) != 2 || list[0].ID != p.ID {
		t.Fatalf("list: %+v %v", list, err)
	}
}

func TestCampaignValidation(t *testing.T) {
	t.Parallel()
	e := setup(t, []string{"val"}, options{})
	ok := campaign.Definition{Name: "n", Audience: campaign.Audience{Tags: []string{"t"}}, Content: followup.Content{Text: "x"}}
	far := time.Now().Add(200 * 24 * time.Hour)
	for _, tc := range []struct {
		mod   func(d *campaign.Definition)
		field string
	}{
		{func(d *campaign.Definition) { d.Name = " " }, "name"},
		{func(d *campaign.Definition) { d.ID = "has space" }, "id"},
		{func(d *campaign.Definition) { d.Audience = campaign.Audience{} }, "audience"},
		{func(d *campaign.Definition) { d.Audience.Match = "some" }, "audience.match"},
		{func(d *campaign.Definition) { d.Audience.Tags = []string{"bad tag"} }, "audience.tags"},
		{func(d *campaign.Definition) { d.Audience.ExcludeTags = []string{"t"} }, "audience.exclude_tags"},
		{func(d *campaign.Definition) { d.Audience.Account = "a" }, "audience.account"},
		{func(d *campaign.Definition) { d.Audience.ActiveWithinDays = -1 }, "audience.active_within_days"},
		{func(d *campaign.Definition) { d.Content = followup.Content{} }, "content"},
		{func(d *campaign.Definition) { d.Content.Flow = "promo" }, "content"},
		{func(d *campaign.Definition) { d.Content.Text = strings.Repeat("长", 2000) }, "content.text"},
		{func(d *campaign.Definition) { d.ScheduleAt = &far }, "schedule_at"},
	} {
		d := ok
		d.Audience.Tags = append([]string(nil), ok.Audience.Tags...)
		tc.mod(&d)
		var fe *campaign.FieldError
		if _, err := e.svc.Create(context.Background(), d); !errors.As(err, &fe) || fe.Field != tc.field {
			t.Errorf("%+v: %v, want a %s error", d, err, tc.field)
		}
	}
}
