package wecomapp

import (
	"regexp"
	"time"

	"github.com/kefu-gateway/kefu/adapters/internal/apiclient"
	"github.com/kefu-gateway/kefu/adapters/internal/wxcrypto"
	"github.com/kefu-gateway/kefu/internal/config"
)

// AccountConfig is one entry of `channels.wecom_app`: a WeCom self-built app
// (自建应用) whose callback URL is /wecom/app/{id}.
type AccountConfig struct {
	// ID names the account in the callback URL. REQUIRED.
	ID string `yaml:"id"`
	// CorpID is the corp's id (企业ID, "ww..."): the receive id of every
	// encrypted callback and the corpid of gettoken. REQUIRED.
	CorpID string `yaml:"corp_id"`
	// AgentID is the app's AgentId; replies go out through this app. REQUIRED.
	AgentID int64 `yaml:"agent_id"`
	// Secret is the app's Secret, for its access token. REQUIRED.
	Secret string `yaml:"secret"`
	// Token and EncodingAESKey are the callback settings of 接收消息 API. REQUIRED.
	Token          string `yaml:"token"`
	EncodingAESKey string `yaml:"encoding_aes_key"`
	// APIBase replaces https://qyapi.weixin.qq.com for every outbound call
	// (CONTRACT.md "api_base"); empty = the platform's host.
	APIBase string `yaml:"api_base"`
	// Timeout bounds each outbound API call.
	Timeout time.Duration `yaml:"timeout"`
	// MaxSkew is how far a callback's timestamp may be from the local clock
	// before the request is refused as a replay.
	MaxSkew time.Duration `yaml:"max_skew"`
	// MergeWindow merges a burst of short texts from one member into one
	// turn: each text waits this long for the next, and the last answers for
	// all (adapters.Capabilities.MergeWindow). 0 answers every text alone.
	MergeWindow time.Duration `yaml:"merge_window"`
	// RateLimit keeps sends to one member under WeCom's per-member limits,
	// above which the platform drops messages without an error
	// (PROTOCOLS.md §3.2).
	RateLimit MemberLimit `yaml:"rate_limit"`
}

// MemberLimit is the per-member send budget of one app.
type MemberLimit struct {
	// PerMinute and PerHour are the sends allowed to one member within any
	// 60 s and 3600 s (WeCom: 30 and 1000).
	PerMinute int `yaml:"per_minute"`
	PerHour   int `yaml:"per_hour"`
	// MaxWait is how long a send may wait in place for a free slot; a longer
	// wait queues the message in a task that runs when the slot frees.
	MaxWait time.Duration `yaml:"max_wait"`
	// QueueSpacing keeps queued messages to one member this far apart, so
	// they leave in order.
	QueueSpacing time.Duration `yaml:"queue_spacing"`
}

// Defaults.
const (
	DefaultTimeout = 10 * time.Second
	// MaxTextBytes is the longest text of one app message: "最长不超过2048个字节，
	// 超过将截断" (PROTOCOLS.md §3.2).
	MaxTextBytes = 2048
)

func defaultAccount() AccountConfig {
	return AccountConfig{
		Timeout:     DefaultTimeout,
		MaxSkew:     wxcrypto.DefaultMaxSkew,
		MergeWindow: 1500 * time.Millisecond,
		RateLimit: MemberLimit{
			PerMinute: 30, PerHour: 1000, MaxWait: 5 * time.Second, QueueSpacing: 2 * time.Second,
		},
	}
}

var (
	idPattern    = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	tokenPattern = regexp.MustCompile(`^[A-Za-z0-9]{1,32}$`)
)

// Validate checks one account.
func (c *AccountConfig) Validate() error {
	var errs []error
	if !idPattern.MatchString(c.ID) {
		errs = append(errs, config.Errorf("id", "REQUIRED: 1-64 letters, digits, '-' or '_' (got %q)", c.ID))
	}
	if c.CorpID == "" || len(c.CorpID) > 64 {
		errs = append(errs, config.Errorf("corp_id", "REQUIRED: the corp's 企业ID (ww...)"))
	}
	if c.AgentID <= 0 {
		errs = append(errs, config.Errorf("agent_id", "REQUIRED: the app's AgentId, a positive number"))
	}
	if c.Secret == "" {
		errs = append(errs, config.Errorf("secret", "REQUIRED: the app's Secret"))
	}
	if !tokenPattern.MatchString(c.Token) {
		errs = append(errs, config.Errorf("token", "REQUIRED: the callback Token, 1-32 letters or digits"))
	}
	if err := wxcrypto.ValidateAESKey(c.EncodingAESKey); err != nil {
		errs = append(errs, config.Errorf("encoding_aes_key", "REQUIRED: %v", err))
	}
	if err := (apiclient.Config{APIBase: c.APIBase}).Validate(); err != nil {
		errs = append(errs, config.Errorf("api_base", "%v", err))
	}
	if c.Timeout < 100*time.Millisecond || c.Timeout > 2*time.Minute {
		errs = append(errs, config.Errorf("timeout", "must be between 100ms and 2m (got %s)", c.Timeout))
	}
	if c.MaxSkew < 30*time.Second || c.MaxSkew > 24*time.Hour {
		errs = append(errs, config.Errorf("max_skew", "must be between 30s and 24h (got %s)", c.MaxSkew))
	}
	if c.MergeWindow < 0 || c.MergeWindow > 10*time.Second {
		errs = append(errs, config.Errorf("merge_window", "must be between 0 and 10s (got %s)", c.MergeWindow))
	}
	r := c.RateLimit
	if r.PerMinute < 1 {
		errs = append(errs, config.Errorf("rate_limit.per_minute", "must be at least 1"))
	}
	if r.PerHour < r.PerMinute {
		errs = append(errs, config.Errorf("rate_limit.per_hour", "must be at least per_minute"))
	}
	if r.MaxWait < 0 || r.MaxWait > time.Minute {
		errs = append(errs, config.Errorf("rate_limit.max_wait", "must be between 0 and 1m (got %s)", r.MaxWait))
	}
	if r.QueueSpacing < 0 || r.QueueSpacing > time.Minute {
		errs = append(errs, config.Errorf("rate_limit.queue_spacing", "must be between 0 and 1m (got %s)", r.QueueSpacing))
	}
	return config.Join(errs...)
}
