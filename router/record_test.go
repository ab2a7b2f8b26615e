package router_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/kefu-gateway/kefu/adapters/message"
	"github.com/kefu-gateway/kefu/router"
)

func TestRecordWritesTheTranscriptWithoutSending(t *testing.T) {
	e := setup(t, "record", "")
	d := router.Delivery{ConversationID: "fake:record:u1", Channel: "fake", Account: "record",
		Customer: message.Party{ID: "u1"},
		Messages: []message.Message{
			{From: message.Party{ID: "u1", Role: message.RoleCustomer}, Text: "退订"},
			{From: message.Party{Role: message.RoleBot}, To: message.Party{ID: "u1"}, Text: "已退订"},
		}}
	got, err := e.r.Record(context.Background(), d)
	if err != nil || len(got) != 2 || got[0].ID == "" || got[1].ID == "" {
		t.Fatalf("Record = %+v, %v", got, err)
	}
	tx := e.transcript(t)
	if len(tx) != 2 || tx[0].Text != "退订" || tx[0].From.Role != message.RoleCustomer || tx[1].Text != "已退订" {
		t.Fatalf("transcript = %+v", tx)
	}
	time.Sleep(200 * time.Millisecond)
	if n := e.fake.Attempts(); n != 0 {
		t.Fatalf("Record sent %d messages", n)
	}
	e.db.Client.HSet(context.Background(), e.keys.Conversation("fake:record:u1"), "o", "agent:amy")
	d.BotOnly = true
	if _, err := e.r.Record(context.Background(), d); !errors.Is(err, router.ErrHumanOwned) {
		t.Fatalf("bot-only record to a human-owned conversation: %v", err)
	}
}
