package wecomkf

import (
	"context"
	"testing"
	"time"
)

// BenchmarkSyncPage measures one pull of the golden page (10 items, 6 for
// the router) and its empty follow-up page: two sync_msg calls on loopback,
// parsing, window bookkeeping in Redis, dispatch and the cursor writes.
func BenchmarkSyncPage(b *testing.B) {
	srv := newGoldenSyncServerB(b)
	e := newEnv(b, testAccounts(srv.URL), time.Unix(1700000600, 0))
	a := e.ch.accounts["shop"]
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e.deps.Redis.Del(ctx, a.keys.sync(goldenKfID, "cursor"))
		e.deps.Redis.Incr(ctx, a.keys.sync(goldenKfID, "seq"))
		if err := a.sync(ctx, goldenKfID); err != nil {
			b.Fatal(err)
		}
	}
}
