package contacts_test

import (
	"context"
	"testing"

	"github.com/kefu-gateway/kefu/internal/testutil/redistest"
)

// BenchmarkObserveKnownCustomer is the per-message cost of contact keeping
// for a returning customer's text: times_only is the router's hot path
// (pipelined, the contact remembered: touchScript), full the whole
// observation script (Observe, which always runs it). It reports the Redis
// server's time per observation (INFO commandstats, so run it alone)
// beside the Go side's.
//
//	go test -run '^$' -bench ObserveKnown ./internal/contacts
func BenchmarkObserveKnownCustomer(b *testing.B) {
	e := setupB(b)
	ctx := context.Background()
	m := inbound("wechat_oa", "bench", "oBench", "", "你好")
	if _, err := e.s.Observe(ctx, m); err != nil {
		b.Fatal(err)
	}
	for _, bb := range []struct {
		name    string
		observe func() error
	}{
		{"times_only", func() error {
			pipe := e.db.Client.Pipeline()
			cmd, err := e.s.ObservePipe(ctx, pipe, m)
			if err != nil {
				return err
			}
			if _, err := pipe.Exec(ctx); err != nil {
				return err
			}
			_, err = cmd.Result(ctx)
			return err
		}},
		{"full", func() error {
			_, err := e.s.Observe(ctx, m)
			return err
		}},
	} {
		b.Run(bb.name, func(b *testing.B) {
			report := redistest.ServerTime(b, e.db.Client, "evalsha")
			for range b.N {
				if err := bb.observe(); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			report()
		})
	}
}
