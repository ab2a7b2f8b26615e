package campaign_test

import (
	"context"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/kefu-gateway/kefu/adapters/message"
	"github.com/kefu-gateway/kefu/internal/campaign"
	"github.com/kefu-gateway/kefu/internal/contacts"
	"github.com/kefu-gateway/kefu/internal/followup"
	"github.com/kefu-gateway/kefu/internal/ratelimit"
	"github.com/kefu-gateway/kefu/internal/testutil/fakechannel"
	"github.com/kefu-gateway/kefu/router"
	"github.com/kefu-gateway/kefu/workers"
)

// TestEmbeddedRedisRunsEngage runs contacts, a rate-limited campaign and a
// follow-up on the embedded Redis `kefu` starts without redis.url (the
// demo): every script must work there too.
func TestEmbeddedRedisRunsEngage(t *testing.T) {
	t.Parallel()
	e := setup(t, []string{"emb"}, options{embedded: true})
	ctx := context.Background()
	ids := e.seed(t, "emb", 30, func(i int, u *contacts.Update) { u.AddTags = []string{"demo"} })
	if _, err := e.contacts.Observe(ctx, message.Message{Channel: "fake", Account: "emb", ConversationID: "fake:emb:" + userID(0),
		From: message.Party{ID: userID(0)}, Kind: message.KindText, Text: "退订"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.contacts.Link(ctx, ids[1], contacts.Identity{Channel: "fake", Account: "emb", ID: userID(2)}); err != nil {
		t.Fatal(err)
	}
	if p, err := e.contacts.Search(ctx, contacts.Query{Tags: []string{"demo"}}); err != nil || len(p.Contacts) != 29 {
		t.Fatalf("search: %v %v", p, err)
	}
	sched := followup.NewScheduler(e.out, e.tasks, asynq.NewInspectorFromRedisClient(e.db.Client))
	srv := workers.NewServer(e.db.Client, workers.Config{Concurrency: 4, ShutdownTimeout: time.Second, RetryBase: 20 * time.Millisecond,
		RetryMax: 100 * time.Millisecond, PollInterval: 50 * time.Millisecond}, e.log)
	for typ, h := range e.svc.Handlers() {
		srv.Handle(typ, h)
	}
	srv.Handle(followup.TypeSend, sched)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)

	rate := ratelimit.Rate{Events: 100, Per: time.Second, Burst: 5}
	p := run(t, e, campaign.Definition{Name: "demo", Audience: campaign.Audience{Tags: []string{"demo"}}, Content: followup.Content{Text: "hi"}, Rate: &rate})
	if p.Sent != 28 || p.SkippedBy[followup.ReasonOptedOut] != 1 || p.Total != 29 {
		t.Fatalf("campaign on the embedded Redis: %+v", p)
	}
	rec, err := sched.Schedule(ctx, router.Conversation{ID: "fake:emb:" + userID(5), Channel: "fake", Account: "emb",
		Customer: message.Party{ID: userID(5)}}, followup.Followup{ID: "x", Delay: 100 * time.Millisecond, Text: "跟进"})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		recs, _ := sched.List(ctx, rec.ContactID)
		if len(recs) == 1 && recs[0].Status == followup.StatusSent {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("follow-up on the embedded Redis: %+v", recs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := len(fakechannel.Get("emb").Sent()); n != 29 {
		t.Fatalf("%d messages sent, want 29", n)
	}
}
