package campaign

import (
	"context"
	"testing"

	"github.com/kefu-gateway/kefu/internal/contacts"
	"github.com/kefu-gateway/kefu/internal/store"
	"github.com/kefu-gateway/kefu/internal/testutil/redistest"
)

// TestRecipientStates drives the recipient scripts directly through the
// awkward interleavings: a worker dies mid-send, the one that finds it
// settles it as interrupted, then the first one's result arrives after all.
func TestRecipientStates(t *testing.T) {
	db := redistest.New(t)
	ctx := context.Background()
	k := newKeys(contacts.NewKeys(store.Keys{Prefix: "kefu:"}))
	id := "c1"
	keys := []string{k.campaign(id), k.stats(id), k.rcpt(id), k.later(id)}
	contact := func(cid string) string { return k.ct.Contact(cid) }
	db.Client.HSet(ctx, k.campaign(id), "status", "running", "gen", 1, "total", 4)
	stats := func() map[string]string { return db.Client.HGetAll(ctx, k.stats(id)).Val() }
	claim := func(cid, token string, lease int64) []any {
		t.Helper()
		res, err := claimScript.Run(ctx, db.Client, append(keys, contact(cid)), cid, 1, token, lease, 100).Slice()
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	finish := func(cid, token, result string) string {
		t.Helper()
		res, err := finishScript.Run(ctx, db.Client, keys, cid, token, result, 100).Text()
		if err != nil {
			t.Fatal(err)
		}
		return res
	}

	// A claims u1 and dies; B finds the lease expired and settles it.
	if r := claim("u1", "A", 50); r[0] != "ok" {
		t.Fatalf("claim: %v", r)
	}
	if r := claim("u1", "B", 500); r[0] != "inflight" {
		t.Fatalf("second claim of a recipient in flight: %v", r)
	}
	st := db.Client.HGet(ctx, k.rcpt(id), "u1").Val()
	if res, _ := interruptScript.Run(ctx, db.Client, keys, "u1", st, 100).Text(); res != "ok" {
		t.Fatalf("interrupt: %s", res)
	}
	if s := stats(); s["failed"] != "1" || s["failed:interrupted"] != "1" || s["inflight"] != "0" {
		t.Fatalf("after interrupt: %v", s)
	}
	// A was only slow: its result corrects the count.
	if res := finish("u1", "A", "s"); res != "ok" {
		t.Fatalf("late finish: %s", res)
	}
	if s := stats(); s["failed"] != "0" || s["failed:interrupted"] != "0" || s["sent"] != "1" {
		t.Fatalf("after the late finish: %v", s)
	}
	if res := finish("u1", "A", "s"); res != "stale" {
		t.Fatalf("finishing twice: %s", res)
	}
	if r := claim("u1", "C", 500); r[0] != "settled" {
		t.Fatalf("claiming a sent recipient: %v", r)
	}

	// A temporary failure puts the recipient back; an opted-out contact is
	// settled by the claim itself.
	claim("u2", "A", 500)
	if res := finish("u2", "A", "release"); res != "ok" || db.Client.HExists(ctx, k.rcpt(id), "u2").Val() {
		t.Fatalf("release: %s", res)
	}
	db.Client.HSet(ctx, contact("u2"), "opt", 1)
	if r := claim("u2", "A", 500); r[0] != "skipped" {
		t.Fatalf("claim of an opted-out contact: %v", r)
	}

	// Deferred, then due: the claim takes it out of the later set.
	if res, _ := settleScript.Run(ctx, db.Client, keys, 1, 100, "u3", "d", 5000).Text(); res != "ok" {
		t.Fatal(res)
	}
	if s := stats(); s["deferred"] != "1" || db.Client.ZCard(ctx, k.later(id)).Val() != 1 {
		t.Fatalf("deferred: %v", s)
	}
	claim("u3", "A", 500)
	finish("u3", "A", "f:platform_refused")
	if s := stats(); s["deferred"] != "0" || s["failed:platform_refused"] != "1" || db.Client.ZCard(ctx, k.later(id)).Val() != 0 {
		t.Fatalf("deferred then failed: %v", s)
	}
	// The fourth settles the campaign: completed.
	settleScript.Run(ctx, db.Client, keys, 1, 100, "u4", "k", "window_closed")
	if s := db.Client.HGet(ctx, k.campaign(id), "status").Val(); s != "completed" {
		t.Fatalf("status %s after every recipient settled", s)
	}
	// A settle for an old generation does nothing.
	if res, _ := settleScript.Run(ctx, db.Client, keys, 0, 100, "u9", "k", "x").Text(); res != "halt" {
		t.Fatalf("stale settle: %s", res)
	}
}
