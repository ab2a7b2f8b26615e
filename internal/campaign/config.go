package campaign

import (
	"time"

	"github.com/kefu-gateway/kefu/internal/config"
	"github.com/kefu-gateway/kefu/internal/ratelimit"
	"gopkg.in/yaml.v3"
)

// Config is the `campaigns:` block.
type Config struct {
	// BatchSize is how many recipients one asynq task handles.
	BatchSize int `yaml:"batch_size"`
	// MaxAudience refuses to plan a campaign whose audience is larger.
	MaxAudience int `yaml:"max_audience"`
	// DefaultRate is a campaign's own send rate when it sets none; the
	// channel limits (rate_limits) apply on top.
	DefaultRate ratelimit.Rate `yaml:"default_rate"`
	// Retention is how long a finished campaign and its per-recipient
	// results are kept.
	Retention time.Duration `yaml:"retention"`
	// MaxScheduleAhead is the furthest ahead a campaign may be scheduled.
	MaxScheduleAhead time.Duration `yaml:"max_schedule_ahead"`
}

// Defaults returns the campaigns defaults.
func Defaults() Config {
	return Config{BatchSize: 100, MaxAudience: 1_000_000, DefaultRate: ratelimit.Rate{Events: 20, Per: time.Second},
		Retention: 90 * 24 * time.Hour, MaxScheduleAhead: 90 * 24 * time.Hour}
}

// Validate checks the block.
func (c *Config) Validate() error {
	var errs []error
	if c.BatchSize < 1 || c.BatchSize > 1000 {
		errs = append(errs, config.Errorf("batch_size", "must be between 1 and 1000"))
	}
	if c.MaxAudience < 1 {
		errs = append(errs, config.Errorf("max_audience", "must be at least 1"))
	}
	if c.Retention < time.Hour {
		errs = append(errs, config.Errorf("retention", "must be at least 1h"))
	}
	if c.MaxScheduleAhead < time.Hour {
		errs = append(errs, config.Errorf("max_schedule_ahead", "must be at least 1h"))
	}
	return config.Join(errs...)
}

// DecodeConfig decodes the `campaigns:` node (nil = defaults).
func DecodeConfig(node *yaml.Node, file string) (Config, error) {
	cfg := Defaults()
	err := config.Decode(node, &cfg, file, "campaigns")
	return cfg, err
}
