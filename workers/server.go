package workers

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/hibiken/asynq"
	"github.com/kefu-gateway/kefu/internal/config"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// Config is the `workers:` block.
type Config struct {
	// Concurrency is how many tasks one process runs at once.
	Concurrency int `yaml:"concurrency"`
	// ShutdownTimeout is how long running tasks get to finish on SIGTERM.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	// RetryBase and RetryMax shape the exponential backoff between attempts.
	RetryBase time.Duration `yaml:"retry_base"`
	RetryMax  time.Duration `yaml:"retry_max"`
	// PollInterval is how often scheduled and retried tasks are checked for
	// being due; it bounds how late a follow-up or retry can start.
	PollInterval time.Duration `yaml:"poll_interval"`
	// IdlePoll is how often an idle worker looks for new tasks; it bounds
	// the delay a reply sent through the active API waits for a worker.
	IdlePoll time.Duration `yaml:"idle_poll"`
}

// Defaults returns the workers defaults.
func Defaults() Config {
	return Config{Concurrency: 20, ShutdownTimeout: 30 * time.Second, RetryBase: time.Second, RetryMax: 5 * time.Minute, PollInterval: time.Second, IdlePoll: 100 * time.Millisecond}
}

// Validate checks the workers configuration.
func (c *Config) Validate() error {
	var errs []error
	if c.Concurrency < 1 {
		errs = append(errs, config.Errorf("concurrency", "must be at least 1"))
	}
	if c.ShutdownTimeout < time.Second {
		errs = append(errs, config.Errorf("shutdown_timeout", "must be at least 1s"))
	}
	if c.RetryBase <= 0 {
		errs = append(errs, config.Errorf("retry_base", "must be positive"))
	}
	if c.PollInterval < 10*time.Millisecond || c.PollInterval > time.Minute {
		errs = append(errs, config.Errorf("poll_interval", "must be between 10ms and 1m"))
	}
	if c.IdlePoll < 10*time.Millisecond || c.IdlePoll > 5*time.Second {
		errs = append(errs, config.Errorf("idle_poll", "must be between 10ms and 5s"))
	}
	if c.RetryMax < c.RetryBase {
		errs = append(errs, config.Errorf("retry_max", "must be at least retry_base"))
	}
	return config.Join(errs...)
}

// Server runs task handlers on asynq.
type Server struct {
	srv *asynq.Server
	mux *asynq.ServeMux
	log *zap.Logger
}

// NewServer returns a server on rdb; register handlers, then Start.
func NewServer(rdb redis.UniversalClient, cfg Config, log *zap.Logger) *Server {
	srv := asynq.NewServerFromRedisClient(rdb, asynq.Config{
		Concurrency:              cfg.Concurrency,
		Queues:                   map[string]int{QueueCritical: 6, QueueDefault: 3, QueueLow: 1},
		ShutdownTimeout:          cfg.ShutdownTimeout,
		DelayedTaskCheckInterval: cfg.PollInterval,
		TaskCheckInterval:        cfg.IdlePoll,
		RetryDelayFunc: func(n int, err error, t *asynq.Task) time.Duration {
			d := time.Duration(float64(cfg.RetryBase) * math.Pow(2, float64(n)))
			if d > cfg.RetryMax || d <= 0 {
				d = cfg.RetryMax
			}
			return d
		},
		Logger:   zapAsynqLogger{log.Named("asynq").Sugar()},
		LogLevel: asynq.WarnLevel,
		ErrorHandler: asynq.ErrorHandlerFunc(func(ctx context.Context, t *asynq.Task, err error) {
			retried, _ := asynq.GetRetryCount(ctx)
			maxRetry, _ := asynq.GetMaxRetry(ctx)
			log.Warn("task failed", zap.String("type", t.Type()), zap.Int("retried", retried), zap.Int("max_retry", maxRetry), zap.Error(err))
		}),
	})
	return &Server{srv: srv, mux: asynq.NewServeMux(), log: log}
}

// Handle registers the handler for a task type.
func (s *Server) Handle(taskType string, h asynq.Handler) { s.mux.Handle(taskType, h) }

// Start begins processing tasks.
func (s *Server) Start() error {
	if err := s.srv.Start(s.mux); err != nil {
		return fmt.Errorf("starting workers: %w", err)
	}
	return nil
}

// Shutdown stops taking tasks and waits for running ones (up to the
// configured shutdown timeout); unfinished ones return to the queue.
func (s *Server) Shutdown() { s.srv.Shutdown() }

type zapAsynqLogger struct{ l *zap.SugaredLogger }

func (z zapAsynqLogger) Debug(args ...any) { z.l.Debug(args...) }
func (z zapAsynqLogger) Info(args ...any)  { z.l.Info(args...) }
func (z zapAsynqLogger) Warn(args ...any)  { z.l.Warn(args...) }
func (z zapAsynqLogger) Error(args ...any) { z.l.Error(args...) }
func (z zapAsynqLogger) Fatal(args ...any) { z.l.Error(args...) }
