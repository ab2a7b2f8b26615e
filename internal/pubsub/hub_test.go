package pubsub_test

import (
	"context"
	"testing"
	"time"

	"github.com/kefu-gateway/kefu/internal/pubsub"
	"github.com/kefu-gateway/kefu/internal/store"
	"github.com/kefu-gateway/kefu/internal/testutil/redistest"
	"go.uber.org/zap"
)

func TestEventsReachEveryProcess(t *testing.T) {
	db := redistest.New(t)
	keys := store.Keys{Prefix: "kefu:"}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a := pubsub.New(db.Client, keys, zap.NewNop())
	b := pubsub.New(db.Client, keys, zap.NewNop())
	go a.Run(ctx)
	go b.Run(ctx)

	la, err := a.Subscribe(ctx, "conv-1")
	if err != nil {
		t.Fatal(err)
	}
	lb, err := b.Subscribe(ctx, "conv-1")
	if err != nil {
		t.Fatal(err)
	}
	other, _ := a.Subscribe(ctx, "conv-2")
	// Subscribe returned, so this publish cannot be missed.
	if err := a.Publish(ctx, "conv-1", pubsub.EncodeEntry("1-0", []byte(`{"text":"hi"}`))); err != nil {
		t.Fatal(err)
	}
	for name, l := range map[string]*pubsub.Listener{"a": la, "b": lb} {
		select {
		case ev := <-l.C:
			if ev.Kind != pubsub.KindEntry || ev.ID != "1-0" || string(ev.Data) != `{"text":"hi"}` {
				t.Errorf("%s got %+v", name, ev)
			}
		case <-time.After(3 * time.Second):
			t.Fatalf("%s got nothing", name)
		}
	}
	select {
	case ev := <-other.C:
		t.Errorf("a listener of another conversation got %+v", ev)
	case <-time.After(100 * time.Millisecond):
	}
	la.Close()
	if _, ok := <-la.C; ok {
		t.Error("closed listener still open")
	}
}

func TestSlowListenerIsClosedAsLagged(t *testing.T) {
	db := redistest.New(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	h := pubsub.New(db.Client, store.Keys{Prefix: "kefu:"}, zap.NewNop())
	go h.Run(ctx)
	l, err := h.Subscribe(ctx, "c")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 400; i++ {
		h.Publish(ctx, "c", "s{}")
	}
	// Nobody reads C, so the hub must give up on the listener once its
	// buffer is full. (Reading it meanwhile raced the hub's delivery and
	// failed on a busy machine.)
	deadline := time.Now().Add(5 * time.Second)
	for l.Err() == nil {
		if time.Now().After(deadline) {
			t.Fatal("an unread listener was never closed as lagged")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if l.Err() != pubsub.ErrLagged {
		t.Fatalf("closed with %v, want ErrLagged", l.Err())
	}
	// C is closed too, after what it buffered.
	timeout := time.After(5 * time.Second)
	for {
		select {
		case _, ok := <-l.C:
			if !ok {
				return
			}
		case <-timeout:
			t.Fatal("a lagged listener's C was never closed")
		}
	}
}

func TestDecodeRejectsMalformed(t *testing.T) {
	for _, p := range []string{"", "x", "m", "mno-newline", "m\nbody"} {
		if _, err := pubsub.Decode(p); err == nil {
			t.Errorf("Decode(%q) accepted", p)
		}
	}
}
