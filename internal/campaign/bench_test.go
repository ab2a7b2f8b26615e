package campaign_test

import (
	"context"
	"fmt"
	"syscall"
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
)

// BenchmarkCampaign100k sends one campaign to 100,000 tagged contacts with
// no rate limit, through real asynq workers (concurrency 20, the default)
// on real Redis, and reports sends per second from creation to
// completion, and the process's peak RSS. Run it with -benchtime=1x:
//
//	go test -run '^$' -bench Campaign100k -benchtime=1x ./internal/campaign
func BenchmarkCampaign100k(b *testing.B) {
	const n = 100_000
	e := setup(b, []string{"bench"}, options{})
	e.seed(b, "bench", n, func(i int, u *contacts.Update) { u.AddTags = []string{"bench"} })
	e.startWorkers(b, 20, 5*time.Second)
	ctx := context.Background()
	b.ResetTimer()
	var elapsed time.Duration
	for i := 0; i < b.N; i++ {
		fakechannel.Get("bench").Reset()
		fakechannel.Get("bench").SetDiscard(true)
		start := time.Now()
		p, err := e.svc.Create(ctx, campaign.Definition{Name: fmt.Sprint("bench ", i), Audience: campaign.Audience{Tags: []string{"bench"}},
			Content: followup.Content{Text: "压测消息"}, Rate: &ratelimit.Unlimited})
		if err != nil {
			b.Fatal(err)
		}
		p = e.wait(b, p.ID, 10*time.Minute, "completion", func(p *campaign.Progress) bool { return p.IsFinal() })
		elapsed += time.Since(start)
		if p.Sent != n || fakechannel.Get("bench").SentCount() != n {
			b.Fatalf("sent %d (%d at the platform), want %d", p.Sent, fakechannel.Get("bench").SentCount(), n)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(n*b.N)/elapsed.Seconds(), "sends/s")
	b.ReportMetric(peakRSSMiB(), "peak-RSS-MiB")
	// What a finished campaign keeps in Redis (definition, counters and
	// every recipient's result) until campaigns.retention.
	ps, _ := e.svc.List(ctx, 1)
	var kept int64
	for _, suffix := range []string{"", ":st", ":r"} {
		v, err := e.db.Client.Do(ctx, "MEMORY", "USAGE", e.contacts.Keys().Base+"cmp:"+ps[0].ID+suffix, "SAMPLES", "0").Int64()
		if err != nil {
			b.Fatal(err)
		}
		kept += v
	}
	b.ReportMetric(float64(kept)/n, "redis-bytes/recipient")
}

func peakRSSMiB() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Maxrss) / 1024 // Linux reports KiB
}

// BenchmarkFollowupMemory schedules 10,000 follow-ups (one per contact, a
// day ahead) and reports the Redis memory each one takes: its record in
// the contact's follow-up hash plus its asynq task (hash and scheduled-set
// entry), measured with MEMORY USAGE.
//
//	go test -run '^$' -bench FollowupMemory -benchtime=1x ./internal/campaign
func BenchmarkFollowupMemory(b *testing.B) {
	const n = 10_000
	e := setup(b, []string{"mem"}, options{})
	ids := e.seed(b, "mem", n, nil)
	sched := followup.NewScheduler(e.out, e.tasks, asynq.NewInspectorFromRedisClient(e.db.Client))
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < n; i++ {
		u := userID(i)
		conv := router.Conversation{ID: "fake:mem:" + u, Channel: "fake", Account: "mem", Customer: message.Party{ID: u}}
		if _, err := sched.Schedule(ctx, conv, followup.Followup{ID: "size-guide", Delay: 24 * time.Hour,
			Text: "您好，这是您要的尺码表：S 160/84A，M 165/88A，L 170/92A。", CancelOnReply: true}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	var bytes int64
	usage := func(key string) int64 {
		v, err := e.db.Client.Do(ctx, "MEMORY", "USAGE", key, "SAMPLES", "0").Int64()
		if err != nil {
			b.Fatalf("MEMORY USAGE %s: %v", key, err)
		}
		return v
	}
	for _, id := range ids {
		bytes += usage(e.contacts.Keys().Followups(id))
	}
	var tasks int64
	iter := e.db.Client.Scan(ctx, 0, "asynq:{default}:t:*", 1000).Iterator()
	for iter.Next(ctx) {
		bytes += usage(iter.Val())
		tasks++
	}
	bytes += usage("asynq:{default}:scheduled")
	if tasks != n {
		b.Fatalf("%d asynq tasks for %d follow-ups", tasks, n)
	}
	b.ReportMetric(float64(bytes)/n, "redis-bytes/followup")
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "schedules/s")
}
