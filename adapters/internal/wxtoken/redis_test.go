package wxtoken_test

import (
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/kefu-gateway/kefu/internal/testutil/redistest"
)

// testRedis leases the test its own empty Redis database
// (internal/testutil/redistest) and returns a function that opens another
// client to it, as a separate kefu process would have.
func testRedis(t testing.TB) func() *redis.Client {
	t.Helper()
	db := redistest.New(t)
	opt, err := redis.ParseURL(db.URL)
	if err != nil {
		t.Fatal(err)
	}
	return func() *redis.Client {
		rdb := redis.NewClient(opt)
		t.Cleanup(func() { rdb.Close() })
		return rdb
	}
}
