package knowledge

import (
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/kefu-gateway/kefu/internal/testutil/redistest"
)

// testRedis leases an empty database on the test Redis (see redistest) and
// returns a client and a key prefix unique to the test.
func testRedis(t *testing.T) (redis.UniversalClient, string) {
	t.Helper()
	db := redistest.New(t)
	return db.Client, fmt.Sprintf("kefutest:%s:%d:", t.Name(), time.Now().UnixNano())
}
