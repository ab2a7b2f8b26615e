package router_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/kefu-gateway/kefu/adapters/message"
	"github.com/kefu-gateway/kefu/internal/metrics"
	dto "github.com/prometheus/client_model/go"
)

// BenchmarkTurn measures one inbound message answered by a keyword flow
// with a passive reply, against real Redis: dedup, load, flows, commit.
// It reports Redis round trips per message.
func BenchmarkTurn(b *testing.B) {
	e := setupB(b)
	ctx := context.Background()
	before := counter(e.metrics)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i++
			m := message.Message{ID: fmt.Sprintf("%p-%d", pb, i), Channel: "fake", Account: e.account,
				ConversationID: fmt.Sprintf("fake:%s:%p-%d", e.account, pb, i%64), From: message.Party{ID: "u"},
				Kind: message.KindText, Text: "hi"}
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
	b.ReportMetric((counter(e.metrics)-before)/float64(b.N), "redis-roundtrips/op")
}

func counter(m *metrics.Metrics) float64 {
	var d dto.Metric
	_ = m.RedisRoundTrips.Write(&d)
	return d.GetCounter().GetValue()
}
