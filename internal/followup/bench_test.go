package followup_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/kefu-gateway/kefu/adapters/message"
	"github.com/kefu-gateway/kefu/internal/testutil/fakechannel"
	dto "github.com/prometheus/client_model/go"
)

// BenchmarkTurnWithContacts is the router's BenchmarkTurn with the engage
// interceptor installed: every message also finds or creates its contact,
// moves its last inbound mark and checks for opt-out keywords. It reports
// Redis round trips per message (the router's budget is 3).
//
//	go test -run '^$' -bench TurnWithContacts ./internal/followup
func BenchmarkTurnWithContacts(b *testing.B) {
	e := setup(b, []string{"bench, passive_budget: 5s"}, nil, nil)
	e.db.Client.AddHook(e.metrics.RedisHook())
	ctx := context.Background()
	var d dto.Metric
	count := func() float64 { _ = e.metrics.RedisRoundTrips.Write(&d); return d.GetCounter().GetValue() }
	before := count()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i++
			user := fmt.Sprintf("%p-%d", pb, i%64)
			m := message.Message{ID: fmt.Sprintf("%p-%d", pb, i), Channel: fakechannel.Kind, Account: "bench",
				ConversationID: "fake:bench:" + user, From: message.Party{ID: user}, Kind: message.KindText, Text: "hi"}
			turn, err := e.r.Accept(ctx, m)
			if err != nil {
				b.Fatal(err)
			}
			if r, ok := turn.TakePassive(ctx, 5*time.Second); !ok || len(r) != 1 {
				b.Fatalf("no passive reply: %v %v", ok, r)
			}
		}
	})
	b.StopTimer()
	b.ReportMetric((count()-before)/float64(b.N), "redis-roundtrips/op")
}
