package router

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/kefu-gateway/kefu/adapters/message"
	"github.com/kefu-gateway/kefu/flows"
	"github.com/kefu-gateway/kefu/internal/store"
	"github.com/kefu-gateway/kefu/internal/testutil/redistest"
	"go.uber.org/zap"
)

// BenchmarkCommitScript is the Redis server's share of a returning
// customer's one-trip turn: the commit (commitScript) of a keyword flow's
// answer with the contact's observation (checked, then its times moved),
// the message and the reply appended to the transcript, sixteen
// conversations' commits per pipeline as under load.
// It reports the server's time per commit (INFO commandstats, so run it
// alone) beside the Go side's.
//
//	go test -run '^$' -bench CommitScript ./router
func BenchmarkCommitScript(b *testing.B) {
	db := redistest.New(b)
	ctx := context.Background()
	r := New(Defaults(), Deps{Redis: db.Client, Keys: store.Keys{Prefix: "kefu:"}, Log: zap.NewNop()})
	const perPipe = 16
	convs := make([]*Conversation, perPipe)
	for i := range convs {
		// Each customer's contact, as the contacts store keeps it.
		c := fmt.Sprintf("kefu:{ct}:c:c%d", i)
		if err := db.Client.HSet(ctx, c, "pv", "3", "created", "1", "lin", "1", "last", "1").Err(); err != nil {
			b.Fatal(err)
		}
		idt := fmt.Sprintf(`{"channel":"wechat_oa","account":"bench","id":"o%d","union_id":"","conversation_id":"wechat_oa:bench:o%d","first_seen":1,"last_inbound":1,"meta":[]}`, i, i)
		if err := db.Client.HSet(ctx, c+":i", fmt.Sprintf("wechat_oa/bench/o%d", i), idt).Err(); err != nil {
			b.Fatal(err)
		}
		id := fmt.Sprintf("wechat_oa:bench:o%d", i)
		convs[i] = &Conversation{ID: id, Channel: "wechat_oa", Account: "bench",
			Customer: message.Party{ID: fmt.Sprintf("o%d", i), Role: message.RoleCustomer},
			Flow: flows.State{Offered: []message.Choice{{Title: "查订单", Payload: "查订单"}, {Title: "申请退货", Payload: "申请退货"},
				{Title: "营业时间", Payload: "营业时间"}}},
			Started: time.Date(2026, 11, 25, 2, 0, 0, 0, time.UTC)}
	}
	turn := func(conv *Conversation, n int) []message.Message {
		in := message.Message{ID: strconv.Itoa(n), Channel: "wechat_oa", Account: "bench", ConversationID: conv.ID,
			From: conv.Customer, To: message.Party{ID: "gh_bench", Role: message.RoleBot}, Kind: message.KindText, Text: "你好",
			Timestamp: time.Now().UTC(), Meta: map[string]string{"msg_type": "text"}}
		out := message.Message{Channel: "wechat_oa", Account: "bench", ConversationID: conv.ID,
			From: message.Party{Name: "智能客服", Role: message.RoleBot}, To: conv.Customer, Kind: message.KindText,
			Text:      "您好！我是小店的智能客服，可以帮您查订单、办退货、解答常见问题。\n1. 查订单\n2. 申请退货\n3. 营业时间",
			Timestamp: time.Now().UTC(), Meta: map[string]string{"msg_type": "text"}}
		return []message.Message{in, out}
	}
	if err := commitScript.Load(ctx, db.Client).Err(); err != nil {
		b.Fatal(err)
	}
	report := redistest.ServerTime(b, db.Client, "evalsha")
	b.ResetTimer()
	for n := 0; n < b.N; n += perPipe {
		pipe := db.Client.Pipeline()
		calls := make([]*commitCall, perPipe)
		for i, conv := range convs {
			entries := turn(conv, n+i)
			conv.Turns++
			call, err := r.queueCommit(ctx, pipe, conv, commitOptions{botReplies: true,
				oneTrip: &oneTripCommit{dedupKey: r.keys.Dedup("wechat_oa", "bench", entries[0].ID), touch: []any{
					"kefu:{ct}:", time.Now().UnixMilli(), fmt.Sprintf("c%d", i), fmt.Sprintf("wechat_oa/bench/o%d", i), "3"}}}, entries)
			if err != nil {
				b.Fatal(err)
			}
			calls[i] = call
		}
		if _, err := pipe.Exec(ctx); err != nil {
			b.Fatal(err)
		}
		for i, call := range calls {
			if _, _, err := call.result(ctx); err != nil {
				b.Fatalf("commit %d: %v", n+i, err)
			}
			convs[i].Version++
		}
	}
	b.StopTimer()
	report()
}
