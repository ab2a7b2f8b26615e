package handoff

import (
	"context"
	"fmt"
	"testing"

	"github.com/kefu-gateway/kefu/internal/store"
	"github.com/kefu-gateway/kefu/internal/testutil/redistest"
	"github.com/redis/go-redis/v9"
)

// callBackScript starts a handoff assigned to the calling agent in one
// step, or refuses: when a handoff is under way (the customer asked for a
// human since the agent looked) and when the agent is full (a customer
// was assigned to them since). A refusal writes nothing.
func TestCallBackScript(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		status string // the record's status before ("" = none)
		load   int    // the agent's conversations before
		want   string
	}{
		{"no handoff", "", 0, "new"},
		{"an ended one", "closed", 1, "new"},
		{"queued meanwhile", "queued", 0, "active"},
		{"assigned meanwhile", "assigned", 0, "active"},
		{"leaving a message", "message", 0, "active"},
		{"with WeCom's reception", "servicer", 0, "active"},
		{"agent full", "", 2, "full"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := redistest.New(t)
			k := keys{store.Keys{Prefix: "kefu:"}}
			conv := "fake:shop:u1"
			if tc.status != "" {
				db.Client.HSet(ctx, k.record(conv), "hid", "old", "status", tc.status, "agent", "bob")
			}
			for i := range tc.load {
				db.Client.ZAdd(ctx, k.agentConvs("alice"), redis.Z{Score: float64(i), Member: fmt.Sprint("other", i)})
			}
			r := &Record{ID: "h1", Conversation: conv, Channel: "fake", Account: "shop", Queue: "support", Reason: ReasonCallBack}
			args := append([]any{conv, 1000, 61000, r.ID, "alice", 2}, recordFields(r)...)
			got, err := callBackScript.Run(ctx, db.Client,
				[]string{k.record(conv), k.agent("alice"), k.agentConvs("alice"), k.claims(), k.assignSeq()}, args...).Text()
			if err != nil || got != tc.want {
				t.Fatalf("script = %q, %v; want %q", got, err, tc.want)
			}
			rec, _ := db.Client.HGetAll(ctx, k.record(conv)).Result()
			load := db.Client.ZCard(ctx, k.agentConvs("alice")).Val()
			claimed := db.Client.ZScore(ctx, k.claims(), conv).Err() == nil
			if tc.want != "new" {
				if (tc.status == "" && len(rec) != 0) || (tc.status != "" && rec["status"] != tc.status) ||
					load != int64(tc.load) || claimed {
					t.Fatalf("a refusal wrote: record %v, load %d, claimed %v", rec, load, claimed)
				}
				return
			}
			p := parseRecord(conv, rec)
			if p.Status != StatusAssigned || p.Agent != "alice" || p.Seq != 1 || p.ID != "h1" || p.Queue != "support" ||
				!p.callBack() || p.Greeted >= p.Seq {
				t.Fatalf("record = %+v", p)
			}
			cur := db.Client.HGet(ctx, k.agent("alice"), "cur").Val()
			if load != int64(tc.load)+1 || cur != conv || !claimed {
				t.Fatalf("load %d, current %q, claimed %v", load, cur, claimed)
			}
		})
	}
}

// A notice's messages get the agent's next numbers, /messages starts
// again from 1, and numbers older than the kept ones are forgotten.
func TestNumberShownScript(t *testing.T) {
	ctx := context.Background()
	db := redistest.New(t)
	key := "kefu:{ho}:leftshown:alice"
	number := func(mode string, ids ...any) int {
		t.Helper()
		first, err := numberShownScript.Run(ctx, db.Client, []string{key}, append([]any{mode, 60000, 3}, ids...)...).Int()
		if err != nil {
			t.Fatal(err)
		}
		return first
	}
	id := func(n int) string { return db.Client.HGet(ctx, key, fmt.Sprint(n)).Val() }
	if f := number("append", "a", "b"); f != 1 || id(1) != "a" || id(2) != "b" {
		t.Fatalf("first notice numbered from %d: %q %q", f, id(1), id(2))
	}
	if f := number("append", "c", "d"); f != 3 || id(3) != "c" || id(4) != "d" || id(1) != "" || id(2) != "b" {
		t.Fatalf("second notice numbered from %d; 1=%q 2=%q 3=%q 4=%q (3 kept)", f, id(1), id(2), id(3), id(4))
	}
	if f := number("fresh", "x"); f != 1 || id(1) != "x" || id(2) != "" || id(4) != "" {
		t.Fatalf("/messages numbered from %d; 1=%q 2=%q 4=%q", f, id(1), id(2), id(4))
	}
	if ttl := db.Client.PTTL(ctx, key).Val(); ttl <= 0 {
		t.Fatalf("TTL %v", ttl)
	}
}

// clearOwnerAtScript clears the owner only at the version read, and moves
// the version when it does, so a turn in flight runs again.
func TestClearOwnerAtScript(t *testing.T) {
	ctx := context.Background()
	db := redistest.New(t)
	key := "kefu:conv:{wechat_oa:shop:u1}"
	clearAt := func(version string) int {
		t.Helper()
		n, err := clearOwnerAtScript.Run(ctx, db.Client, []string{key}, version).Int()
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	db.Client.HSet(ctx, key, "o", OwnerAgentPrefix+"alice", "v", 7)
	if n := clearAt("6"); n != 0 {
		t.Fatalf("cleared at a version that moved on: %d", n)
	}
	if o := db.Client.HGet(ctx, key, "o").Val(); o != OwnerAgentPrefix+"alice" {
		t.Fatalf("owner %q after a refused clear", o)
	}
	if n := clearAt("7"); n != 1 {
		t.Fatalf("not cleared at its version: %d", n)
	}
	if h := db.Client.HGetAll(ctx, key).Val(); h["o"] != "" || h["v"] != "8" {
		t.Fatalf("after the clear: %v; want no owner, version 8", h)
	}
	if n := clearAt("8"); n != 1 || db.Client.HGet(ctx, key, "v").Val() != "8" {
		t.Fatalf("clearing no owner: %d, version %s; want 1 and the version unchanged", n, db.Client.HGet(ctx, key, "v").Val())
	}
	if n := clearAt("0"); n != 0 {
		t.Fatalf("cleared at version 0 of a conversation at 8: %d", n)
	}
}
