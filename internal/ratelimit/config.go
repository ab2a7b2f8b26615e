package ratelimit

import (
	"context"
	"fmt"

	"github.com/kefu-gateway/kefu/internal/config"
	"gopkg.in/yaml.v3"
)

// Config is the `rate_limits:` block: how fast kefu may send on its own
// initiative through each channel account. Follow-ups, campaigns and agent
// replies all draw from the same per-account bucket, across processes.
type Config struct {
	// Default applies to channel accounts without a line of their own
	// ("" = unlimited).
	Default Rate `yaml:"default"`
	// Channels are per-channel (every account of it, each with its own
	// bucket) or per-account limits; an account line wins over its channel's.
	Channels []ChannelLimit `yaml:"channels"`
}

// ChannelLimit is one line of rate_limits.channels.
type ChannelLimit struct {
	Channel string `yaml:"channel"`
	// Account narrows the line to one account; empty = every account.
	Account string `yaml:"account"`
	Rate    Rate   `yaml:"rate"`
}

// Defaults returns the rate_limits defaults: no limits.
func Defaults() Config { return Config{} }

// Validate checks the block.
func (c *Config) Validate() error {
	var errs []error
	seen := map[string]bool{}
	for i, l := range c.Channels {
		p := fmt.Sprintf("channels[%d]", i)
		if l.Channel == "" {
			errs = append(errs, config.Errorf(p+".channel", "must name a channel kind such as wechat_oa"))
		}
		k := l.Channel + "/" + l.Account
		if seen[k] {
			errs = append(errs, config.Errorf(p, "duplicate line for %s", k))
		}
		seen[k] = true
	}
	return config.Join(errs...)
}

// DecodeConfig decodes the `rate_limits:` node (nil = defaults).
func DecodeConfig(node *yaml.Node, file string) (Config, error) {
	cfg := Defaults()
	err := config.Decode(node, &cfg, file, "rate_limits")
	return cfg, err
}

// Channels applies the configured per-channel limits.
type Channels struct {
	l   *Limiter
	cfg Config
}

// NewChannels returns the configured channel limits drawing from l.
func NewChannels(l *Limiter, cfg Config) *Channels { return &Channels{l: l, cfg: cfg} }

// Rate is the configured rate of a channel account.
func (c *Channels) Rate(channel, account string) Rate {
	r, found := c.cfg.Default, false
	for _, l := range c.cfg.Channels {
		switch {
		case l.Channel == channel && l.Account == account:
			return l.Rate
		case l.Channel == channel && l.Account == "" && !found:
			r, found = l.Rate, true
		}
	}
	return r
}

// Bucket is the shared bucket of a channel account.
func (c *Channels) Bucket(channel, account string) Bucket {
	return c.l.Bucket("send", channel+":"+account, c.Rate(channel, account))
}

// Wait blocks until the channel account may send one more message (agent
// replies call it before sending), or ctx ends.
func (c *Channels) Wait(ctx context.Context, channel, account string) error {
	return c.l.Wait(ctx, c.Bucket(channel, account))
}

// Limiter is the underlying limiter, for combining the channel's bucket
// with others (a campaign's own rate) in one Reserve.
func (c *Channels) Limiter() *Limiter { return c.l }
