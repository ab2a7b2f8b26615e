package handoff_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/kefu-gateway/kefu/adapters/message"
	"github.com/kefu-gateway/kefu/internal/testutil/fakechannel"
	"github.com/kefu-gateway/kefu/router"
)

// The interceptor sees every inbound message of every customer: for
// ordinary customer text it must cost nothing (no Redis round trip).
func BenchmarkInterceptCustomerText(b *testing.B) {
	e := setupBench(b)
	msg := message.Message{ID: "m", Channel: fakechannel.Kind, Account: e.shopID, ConversationID: e.conv("u1"),
		From: message.Party{ID: "u1"}, Kind: message.KindText, Text: "我的订单什么时候到？"}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if took, err := e.svc.Intercept(ctx, msg); took || err != nil {
			b.Fatal(took, err)
		}
	}
}

// Request: a customer asks for a human and is queued (record, queue,
// owner, timeout timer, position message).
func BenchmarkRequestQueued(b *testing.B) {
	e := setupBench(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		user := fmt.Sprintf("b%d", i)
		conv := router.Conversation{ID: e.conv(user), Channel: fakechannel.Kind, Account: e.shopID,
			Customer: message.Party{ID: user}}
		if err := e.svc.Request(ctx, conv, message.Message{}, "", "bench"); err != nil {
			b.Fatal(err)
		}
	}
}

func setupBench(b *testing.B) *env {
	b.Helper()
	return setupTB(b, options{noWorkers: true})
}
