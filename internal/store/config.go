package store

import (
	"net/url"
	"strings"
	"time"

	"github.com/kefu-gateway/kefu/internal/config"
)

// Config is the `redis:` block.
type Config struct {
	// URL of the Redis to use. Empty starts an embedded, in-memory Redis
	// (miniredis) in this process: for the demo and local trials only.
	//   redis://[user:pass@]host:port/db                      standalone
	//   rediss://...                                          the same over TLS
	//   redis://host:26379?master_name=mymaster&addr=h2:26379 Sentinel (master_name given)
	//   redis://host1:6379?addr=host2:6379&addr=host3:6379    Cluster (mode: cluster)
	URL string `yaml:"url"`
	// Mode is auto (default: sentinel when master_name is in the URL, else
	// standalone), standalone, sentinel or cluster.
	Mode string `yaml:"mode"`
	// Prefix starts every key kefu writes (asynq's own keys start with "asynq:").
	Prefix       string        `yaml:"prefix"`
	PoolSize     int           `yaml:"pool_size"`
	DialTimeout  time.Duration `yaml:"dial_timeout"`
	ReadTimeout  time.Duration `yaml:"read_timeout"`
	WriteTimeout time.Duration `yaml:"write_timeout"`
}

// Defaults returns the default Redis configuration (embedded).
func Defaults() Config {
	return Config{Mode: "auto", Prefix: "kefu:", DialTimeout: 5 * time.Second, ReadTimeout: 3 * time.Second, WriteTimeout: 3 * time.Second}
}

// Validate checks the URL and mode.
func (c *Config) Validate() error {
	var errs []error
	if c.URL != "" {
		u, err := url.Parse(c.URL)
		switch {
		case err != nil:
			errs = append(errs, config.Errorf("url", "not a URL (the value is not shown because it may hold a password)"))
		case u.Scheme != "redis" && u.Scheme != "rediss" && u.Scheme != "unix":
			errs = append(errs, config.Errorf("url", "scheme must be redis, rediss or unix, not %q", u.Scheme))
		}
	}
	switch c.Mode {
	case "auto", "standalone", "sentinel", "cluster":
	default:
		errs = append(errs, config.Errorf("mode", "must be auto, standalone, sentinel or cluster, not %q", c.Mode))
	}
	if c.Prefix == "" || strings.ContainsAny(c.Prefix, " {}") {
		errs = append(errs, config.Errorf("prefix", "must be non-empty without spaces or braces"))
	}
	if c.PoolSize < 0 {
		errs = append(errs, config.Errorf("pool_size", "must not be negative"))
	}
	return config.Join(errs...)
}
