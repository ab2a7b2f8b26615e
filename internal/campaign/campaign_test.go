package campaign_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/kefu-gateway/kefu/internal/campaign"
	"github.com/kefu-gateway/kefu/internal/contacts"
	"github.com/kefu-gateway/kefu/internal/followup"
	"github.com/kefu-gateway/kefu/internal/testutil/fakechannel"
)

// TestCampaignToATagSegmentOfTenThousand sends to 10,000 tagged contacts:
// a tenth excluded by tag, some opted out, some outside the window. It is
// paused and resumed, and its worker is replaced mid-campaign by a second
// one while the first is stopped without waiting for its tasks (asynq
// requeues them while their handlers still run). Every eligible customer
// must get exactly one message; the others are counted with the reason.
func TestCampaignToATagSegmentOfTenThousand(t *testing.T) {
	const n = 10_000
	e := setup(t, []string{"big"}, options{})
	fake := fakechannel.Get("big")
	excluded := func(i int) bool { return i%10 == 3 }
	optedOut := func(i int) bool { return i%20 == 5 }
	closed := func(i int) bool { return i%25 == 7 }
	yes := true
	e.seed(t, "big", n, func(i int, u *contacts.Update) {
		u.AddTags = []string{"vip"}
		if excluded(i) {
			u.AddTags = append(u.AddTags, "blocked")
		}
		if optedOut(i) {
			u.OptOut, u.Source = &yes, "import"
		}
	})
	fake.SetWindow(closedFor(func(user string) bool { i, _ := strconv.Atoi(user[1:]); return closed(i) }))
	fake.SetDelay(200 * time.Microsecond) // a platform call takes a moment

	stopA := e.startWorkers(t, 8, time.Millisecond)
	ctx := context.Background()
	p, err := e.svc.Create(ctx, campaign.Definition{Name: "双十一预热", Audience: campaign.Audience{Tags: []string{"vip"},
		ExcludeTags: []string{"blocked"}, Channel: "fake", Account: "big"}, Content: followup.Content{Text: "VIP 专享：全场八折"}})
	if err != nil {
		t.Fatal(err)
	}

	// Pause: sending stops, and nothing is lost or repeated across it.
	e.wait(t, p.ID, 60*time.Second, "2,000 sent", func(p *campaign.Progress) bool { return p.Sent >= 2000 })
	if _, err := e.svc.Pause(ctx, p.ID); err != nil {
		t.Fatal(err)
	}
	paused := e.wait(t, p.ID, 10*time.Second, "in-flight sends to settle", func(p *campaign.Progress) bool { return p.Sending == 0 })
	time.Sleep(300 * time.Millisecond)
	if again, _ := e.svc.Get(ctx, p.ID); again.Sent != paused.Sent || again.Status != campaign.StatusPaused || len(fake.Sent()) != int(paused.Sent) {
		t.Fatalf("sending went on while paused: %d then %d (%d at the platform)", paused.Sent, again.Sent, len(fake.Sent()))
	}
	if paused.Sent >= 8100 {
		t.Fatalf("the campaign finished before it could be paused (%d sent): nothing was tested", paused.Sent)
	}
	if _, err := e.svc.Resume(ctx, p.ID); err != nil {
		t.Fatal(err)
	}

	// Replace the worker mid-campaign: a second process starts, the first
	// is stopped without waiting.
	e.wait(t, p.ID, 60*time.Second, "5,000 sent", func(p *campaign.Progress) bool { return p.Sent >= 5000 })
	e.startWorkers(t, 8, 2*time.Second)
	stopA()
	mid, _ := e.svc.Get(ctx, p.ID)
	if mid.IsFinal() {
		t.Fatalf("the campaign finished before the restart: nothing was tested")
	}

	final := e.wait(t, p.ID, 90*time.Second, "completion", func(p *campaign.Progress) bool { return p.IsFinal() })
	wantSkip := map[string]int64{}
	var wantSent int64
	got := perRecipient("big")
	for i := 0; i < n; i++ {
		u := userID(i)
		switch {
		case excluded(i):
			if got[u] != 0 {
				t.Fatalf("%s is excluded by tag but got %d messages", u, got[u])
			}
			continue
		case optedOut(i):
			wantSkip[followup.ReasonOptedOut]++
		case closed(i):
			wantSkip[followup.ReasonWindowClosed]++
		default:
			wantSent++
			if got[u] != 1 {
				t.Fatalf("%s got %d messages, want exactly 1", u, got[u])
			}
			continue
		}
		if got[u] != 0 {
			t.Fatalf("%s should have been skipped but got %d messages", u, got[u])
		}
	}
	if final.Status != campaign.StatusCompleted || final.Total != n-n/10 || final.Sent != wantSent || final.Failed != 0 ||
		final.Skipped != wantSkip[followup.ReasonOptedOut]+wantSkip[followup.ReasonWindowClosed] ||
		final.SkippedBy[followup.ReasonOptedOut] != wantSkip[followup.ReasonOptedOut] ||
		final.SkippedBy[followup.ReasonWindowClosed] != wantSkip[followup.ReasonWindowClosed] ||
		final.Queued != 0 || final.Sending != 0 || final.Finished == nil {
		t.Fatalf("final progress %+v, want %d sent and skipped %v", final, wantSent, wantSkip)
	}
	if len(fake.Sent()) != int(wantSent) {
		t.Fatalf("%d messages at the platform, want %d", len(fake.Sent()), wantSent)
	}
	t.Logf("paused at %d sent, restarted at %d sent", paused.Sent, mid.Sent)
}
