package redistest

import (
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// Private starts a Redis of the test's own, the embedded one kefu's demo
// runs on, for tests that change the whole server (SCRIPT FLUSH, as after
// a Redis restart) and so must not share the test Redis with other
// packages. It stops when the test ends. Server controls it (say, to make
// every command fail).
func Private(t testing.TB) *DB {
	t.Helper()
	mr := miniredis.RunT(t)
	client := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { _ = client.Close() })
	return &DB{Client: client, URL: "redis://" + mr.Addr(), Server: mr}
}
