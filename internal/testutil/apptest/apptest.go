// Package apptest runs a whole kefu in-process for tests: real HTTP on a
// loopback port, a leased database on the real test Redis, asynq workers.
package apptest

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	_ "github.com/kefu-gateway/kefu/adapters/all"
	"github.com/kefu-gateway/kefu/flows"
	"github.com/kefu-gateway/kefu/internal/app"
	"github.com/kefu-gateway/kefu/internal/clock"
	"github.com/kefu-gateway/kefu/internal/knowledge"
	"github.com/kefu-gateway/kefu/internal/testutil/redistest"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// Server is a running kefu.
type Server struct {
	URL  string
	Addr string
	App  *app.App
	DB   *redistest.DB
	// Logs holds every log entry, for asserting what is (not) logged.
	Logs *observer.ObservedLogs
}

// Options tune Start.
type Options struct {
	// DB reuses a database (several processes on one Redis); nil leases one.
	DB *redistest.DB
	// Workers runs the asynq workers in this process (default true).
	NoWorkers bool
	Clock     clock.Clock
	// Env adds environment variables seen by ${VAR} expansion.
	Env map[string]string
}

// RepoRoot is the repository's top folder.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", "..", ".."))
}

// DemoConfig is configs/kefu.yaml with paths made absolute, for tests that
// want the shipped demo.
func DemoConfig(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(RepoRoot(), "configs", "kefu.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	s := strings.ReplaceAll(string(b), "dir: configs/", "dir: "+filepath.Join(RepoRoot(), "configs")+"/")
	return s
}

// Start runs kefu with the given YAML configuration. The Redis URL and the
// listen address are provided by the harness.
func Start(t testing.TB, yamlText string, o Options) *Server {
	t.Helper()
	db := o.DB
	if db == nil {
		db = redistest.New(t)
	}
	env := map[string]string{"KEFU_REDIS_URL": db.URL}
	for k, v := range o.Env {
		env[k] = v
	}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	cfg, err := app.ParseConfig("test.yaml", []byte(yamlText), lookup)
	if err != nil {
		t.Fatalf("test configuration: %v", err)
	}
	// The defaults are the repository's demo folders, relative to where kefu
	// runs; a package's tests run elsewhere, with no flows or knowledge
	// unless their configuration names some.
	if cfg.Flows.Dir == flows.DefaultDir {
		cfg.Flows.Dir = t.TempDir()
	}
	if cfg.Knowledge.Dir == knowledge.DefaultDir {
		cfg.Knowledge.Dir = t.TempDir()
	}
	core, logs := observer.New(zapcore.DebugLevel)
	log := zap.New(zapcore.NewTee(core, zapcore.NewCore(zapcore.NewConsoleEncoder(zap.NewDevelopmentEncoderConfig()), zapcore.AddSync(testWriter{t}), zapcore.WarnLevel)))
	a, err := app.New(context.Background(), cfg, log, app.Options{HTTP: true, Workers: !o.NoWorkers, Clock: o.Clock})
	if err != nil {
		t.Fatalf("starting kefu: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(ln); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		a.Shutdown(ctx)
	})
	return &Server{URL: "http://" + ln.Addr().String(), Addr: ln.Addr().String(), App: a, DB: db, Logs: logs}
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Logf("%s", strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
