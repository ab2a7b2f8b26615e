package store

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/kefu-gateway/kefu/internal/testutil/redistest"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// The embedded Redis must expire keys with the wall clock: asynq's unique
// locks, leases and heartbeats depend on TTLs.
func TestEmbeddedRedisExpiresKeysAndRunsAsynq(t *testing.T) {
	core, logs := observer.New(zap.WarnLevel)
	s, err := Open(context.Background(), Defaults(), zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !s.Embedded {
		t.Fatal("empty url must give the embedded Redis")
	}
	if logs.FilterMessageSnippet("NOTHING PERSISTS").Len() != 1 {
		t.Error("no loud warning that nothing persists")
	}
	ctx := context.Background()
	s.Client.Set(ctx, "k", "v", 500*time.Millisecond)
	deadline := time.Now().Add(3 * time.Second)
	for s.Client.Exists(ctx, "k").Val() == 1 {
		if time.Now().After(deadline) {
			t.Fatal("a key with a 500ms TTL never expired on the embedded Redis")
		}
		time.Sleep(50 * time.Millisecond)
	}

	done := make(chan string, 2)
	srv := asynq.NewServerFromRedisClient(s.Client, asynq.Config{Concurrency: 1, DelayedTaskCheckInterval: 100 * time.Millisecond, LogLevel: asynq.FatalLevel})
	mux := asynq.NewServeMux()
	mux.HandleFunc("t", func(ctx context.Context, task *asynq.Task) error { done <- string(task.Payload()); return nil })
	if err := srv.Start(mux); err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	cl := asynq.NewClientFromRedisClient(s.Client)
	if _, err := cl.Enqueue(asynq.NewTask("t", []byte("later")), asynq.ProcessIn(300*time.Millisecond), asynq.Unique(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Enqueue(asynq.NewTask("t", []byte("later")), asynq.ProcessIn(300*time.Millisecond), asynq.Unique(time.Minute)); err == nil {
		t.Error("a duplicate unique task was accepted")
	}
	select {
	case p := <-done:
		if p != "later" {
			t.Errorf("got %q", p)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a scheduled task never ran on the embedded Redis")
	}
}

func TestOpenRealRedisAndRedactPasswords(t *testing.T) {
	db := redistest.New(t)
	cfg := Defaults()
	cfg.URL = db.URL
	s, err := Open(context.Background(), cfg, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	if s.Embedded || s.Ping(context.Background()) != nil {
		t.Error("a configured url must give a working real client")
	}
	s.Close()

	cfg.URL = "redis://user:s3cretpass@127.0.0.1:1/0"
	cfg.DialTimeout = 200 * time.Millisecond
	_, err = Open(context.Background(), cfg, zap.NewNop())
	if err == nil || strings.Contains(err.Error(), "s3cretpass") {
		t.Fatalf("unreachable redis: %v (must fail without showing the password)", err)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{URL: "http://x", Mode: "auto", Prefix: "kefu:"}, "scheme"},
		{Config{Mode: "mesh", Prefix: "kefu:"}, "mode"},
		{Config{Mode: "auto", Prefix: ""}, "prefix"},
		{Config{Mode: "auto", Prefix: "a{b"}, "prefix"},
	} {
		err := tc.cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.cfg, err, tc.want)
		}
	}
	d := Defaults()
	if err := d.Validate(); err != nil {
		t.Errorf("defaults: %v", err)
	}
}

// redis.url and redis.mode pick the client: standalone, Sentinel (auto when
// the URL names master_name) or Cluster, each with the configured pool and
// timeouts. Nothing is dialled here.
func TestClientForEachMode(t *testing.T) {
	base := Defaults()
	base.PoolSize = 7
	base.ReadTimeout = 1500 * time.Millisecond
	for _, tc := range []struct {
		name, url, mode string
		check           func(t *testing.T, c redis.UniversalClient)
	}{
		{"standalone", "redis://:pw@10.0.0.1:6379/2", "auto", func(t *testing.T, c redis.UniversalClient) {
			o := c.(*redis.Client).Options()
			if o.Addr != "10.0.0.1:6379" || o.DB != 2 || o.Password != "pw" || o.PoolSize != 7 || o.ReadTimeout != 1500*time.Millisecond {
				t.Fatalf("options %+v", o)
			}
		}},
		{"sentinel by master_name", "redis://10.0.0.1:26379/0?master_name=mymaster&addr=10.0.0.2:26379", "auto", func(t *testing.T, c redis.UniversalClient) {
			o := c.(*redis.Client).Options()
			if o.Addr != "FailoverClient" || o.PoolSize != 7 || o.ReadTimeout != 1500*time.Millisecond {
				t.Fatalf("options %+v, want a Sentinel failover client", o)
			}
		}},
		{"cluster", "redis://10.0.0.1:7000?addr=10.0.0.2:7000&addr=10.0.0.3:7000", "cluster", func(t *testing.T, c redis.UniversalClient) {
			o := c.(*redis.ClusterClient).Options()
			if len(o.Addrs) != 3 || o.PoolSize != 7 || o.ReadTimeout != 1500*time.Millisecond {
				t.Fatalf("options %+v, want three seed nodes", o)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := base
			cfg.URL, cfg.Mode = tc.url, tc.mode
			if err := cfg.Validate(); err != nil {
				t.Fatal(err)
			}
			c, err := newClient(cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			tc.check(t, c)
		})
	}
}
