package router_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/kefu-gateway/kefu/adapters/message"
	"github.com/kefu-gateway/kefu/router"
)

type recorder struct {
	mu          sync.Mutex
	intercepted []string
	owned       []string
	take        string
}

func (rec *recorder) Intercept(ctx context.Context, m message.Message) (bool, error) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.intercepted = append(rec.intercepted, m.Text)
	return m.Text == rec.take, nil
}

func (rec *recorder) HandleOwned(ctx context.Context, conv router.Conversation, m message.Message) error {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.owned = append(rec.owned, conv.Owner+"|"+m.Text)
	return nil
}

func TestInterceptorAndOwnedHandler(t *testing.T) {
	e := setup(t, "hooks", "passive_budget: 1s")
	rec := &recorder{take: "agent says"}
	e.r.SetHooks(router.Hooks{Interceptors: []router.Interceptor{rec}, Owned: rec})

	replies, _ := e.accept(t, e.msg("m1", "agent says")).TakePassive(context.Background(), time.Second)
	if len(replies) != 0 || len(e.transcript(t)) != 0 {
		t.Fatalf("an intercepted message was answered or recorded: %+v", replies)
	}
	// Retries of an intercepted message are not offered again.
	turn := e.accept(t, e.msg("m1", "agent says"))
	<-turn.Done()
	if len(rec.intercepted) != 1 {
		t.Errorf("interceptor saw %d deliveries of one message", len(rec.intercepted))
	}

	e.db.Client.HSet(context.Background(), e.keys.Conversation("fake:hooks:u1"), "o", "agent:amy")
	turn = e.accept(t, e.msg("m2", "hi"))
	if r, _ := turn.TakePassive(context.Background(), time.Second); len(r) != 0 {
		t.Fatalf("bot answered a human-owned conversation: %+v", r)
	}
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		rec.mu.Lock()
		n := len(rec.owned)
		rec.mu.Unlock()
		if n > 0 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if len(rec.owned) != 1 || rec.owned[0] != "agent:amy|hi" {
		t.Fatalf("owned handler calls = %q", rec.owned)
	}
}

func TestDeliverOutsideATurn(t *testing.T) {
	e := setup(t, "deliver", "")
	d := router.Delivery{ConversationID: "fake:deliver:u1", Channel: "fake", Account: "deliver",
		Customer: message.Party{ID: "u1"},
		Messages: []message.Message{{From: message.Party{Role: message.RoleAgent, Name: "Amy"}, Text: "您好，我是客服 Amy"}}}
	got, err := e.r.Deliver(context.Background(), d)
	if err != nil || len(got) != 1 || got[0].ID == "" {
		t.Fatalf("Deliver = %+v, %v", got, err)
	}
	sent := e.fake.WaitSent(1, 5*time.Second)
	if len(sent) != 1 || sent[0].Text != "您好，我是客服 Amy" || sent[0].To.ID != "u1" {
		t.Fatalf("sent = %+v", sent)
	}
	if tx := e.transcript(t); len(tx) != 1 || tx[0].From.Role != message.RoleAgent {
		t.Fatalf("transcript = %+v", tx)
	}
	// Bot-only deliveries (follow-ups) are refused while a human owns it.
	e.db.Client.HSet(context.Background(), e.keys.Conversation("fake:deliver:u1"), "o", "agent:amy")
	d.BotOnly = true
	d.Messages = []message.Message{{From: message.Party{Role: message.RoleBot}, Text: "follow-up"}}
	if _, err := e.r.Deliver(context.Background(), d); !errors.Is(err, router.ErrHumanOwned) {
		t.Fatalf("bot-only delivery to a human-owned conversation: %v", err)
	}
	if _, err := e.r.Deliver(context.Background(), router.Delivery{Channel: "nope", Account: "x"}); err == nil {
		t.Error("delivery to an unknown account accepted")
	}
}
