package adapters

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/kefu-gateway/kefu/adapters/message"
	"github.com/kefu-gateway/kefu/internal/clock"
	"github.com/kefu-gateway/kefu/internal/config"
	"github.com/kefu-gateway/kefu/internal/metrics"
	"github.com/kefu-gateway/kefu/internal/pubsub"
	"github.com/kefu-gateway/kefu/internal/store"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"gopkg.in/yaml.v3"
)

// Transcripts reads conversation transcripts.
type Transcripts interface {
	// After returns up to limit entries after the entry id after ("" = from
	// the start of the kept history, newest limit entries).
	After(ctx context.Context, conv, after string, limit int) ([]message.Message, error)
}

// Enqueuer schedules background tasks.
type Enqueuer interface {
	EnqueueContext(ctx context.Context, task *asynq.Task, opts ...asynq.Option) (*asynq.TaskInfo, error)
}

// Deps is what the core gives every channel factory.
type Deps struct {
	Log   *zap.Logger
	Redis redis.UniversalClient
	// Batch, when set, is the gateway's shared batcher: commands on the
	// hot path of an inbound message go with the router's (see
	// store.Batcher).
	Batch       *store.Batcher
	Keys        store.Keys
	Inbound     Inbound
	Transcripts Transcripts
	Hub         *pubsub.Hub
	Tasks       Enqueuer
	Metrics     *metrics.Metrics
	Clock       clock.Clock
	// ConfigFile is the configuration file's path, for error messages.
	ConfigFile string
	// BodyLimit is the largest inbound request body accepted (http.body_limit).
	BodyLimit int
	// PublicURL is kefu's own base URL as clients reach it, when known.
	PublicURL string
	// ShutdownTimeout bounds how long long-lived work may take to stop.
	ShutdownTimeout time.Duration
}

// Factory builds one channel kind from its configuration list (the YAML
// node under channels.<kind>, possibly nil). path is the node's key path
// ("channels.web") for error messages; decode it with config.Decode so
// every problem names its key and line.
//
// A factory must do no I/O: Validate calls it with empty Deps to check a
// configuration before anything starts. Connections and other long-lived
// work belong in Run (see Runner) or happen lazily on first use.
type Factory func(deps Deps, node *yaml.Node, path string) (Channel, error)

var (
	regMu    sync.RWMutex
	registry = map[string]Factory{}
)

// Register makes a channel kind available. Channel packages call it from
// init(); registering a name twice panics (a programming error).
func Register(kind string, f Factory) {
	regMu.Lock()
	defer regMu.Unlock()
	if _, dup := registry[kind]; dup {
		panic("adapters: channel kind registered twice: " + kind)
	}
	registry[kind] = f
}

// Kinds lists the registered channel kinds, sorted.
func Kinds() []string {
	regMu.RLock()
	defer regMu.RUnlock()
	return kindsLocked()
}

func kindsLocked() []string {
	out := make([]string, 0, len(registry))
	for k := range registry {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Set is every configured channel and account.
type Set struct {
	channels map[string]Channel
	accounts map[string]Adapter
}

// Build constructs every registered kind. nodes holds the configuration of
// each kind by name; kinds absent from it are built with no accounts, so their
// routes answer 404 for any id.
func Build(deps Deps, nodes map[string]*yaml.Node) (*Set, error) {
	regMu.RLock()
	defer regMu.RUnlock()
	for kind, n := range nodes {
		if _, ok := registry[kind]; !ok {
			line := 0
			if n != nil {
				line = n.Line
			}
			return nil, &config.FieldError{File: deps.ConfigFile, Line: line, Path: "channels." + kind,
				Msg: fmt.Sprintf("unknown channel kind (known: %s)", strings.Join(kindsLocked(), ", "))}
		}
	}
	s := &Set{channels: map[string]Channel{}, accounts: map[string]Adapter{}}
	for kind, f := range registry {
		ch, err := f(deps, nodes[kind], "channels."+kind)
		if err != nil {
			return nil, err
		}
		s.channels[kind] = ch
		for _, a := range ch.Adapters() {
			s.accounts[key(a.Channel(), a.Account())] = a
		}
	}
	return s, nil
}

// Validate checks every channel kind's configuration without starting
// anything. file names the configuration file in messages.
func Validate(file string, nodes map[string]*yaml.Node) error {
	_, err := Build(Deps{Log: zap.NewNop(), ConfigFile: file, Clock: clock.Real{}}, nodes)
	return err
}

func key(channel, account string) string { return channel + "\x00" + account }

// Lookup finds the adapter for a channel kind and account id.
func (s *Set) Lookup(channel, account string) (Adapter, bool) {
	a, ok := s.accounts[key(channel, account)]
	return a, ok
}

// Channels returns every built channel kind, sorted by name.
func (s *Set) Channels() []Channel {
	names := make([]string, 0, len(s.channels))
	for k := range s.channels {
		names = append(names, k)
	}
	sort.Strings(names)
	out := make([]Channel, len(names))
	for i, n := range names {
		out[i] = s.channels[n]
	}
	return out
}

// Adapters returns every configured account.
func (s *Set) Adapters() []Adapter {
	out := make([]Adapter, 0, len(s.accounts))
	for _, ch := range s.Channels() {
		out = append(out, ch.Adapters()...)
	}
	return out
}
