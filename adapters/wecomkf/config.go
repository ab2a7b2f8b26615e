package wecomkf

import (
	"regexp"
	"time"

	"github.com/kefu-gateway/kefu/adapters/internal/apiclient"
	"github.com/kefu-gateway/kefu/adapters/internal/wxcrypto"
	"github.com/kefu-gateway/kefu/internal/config"
)

// AccountConfig is one entry of `channels.wecom_kf`: a corp's 微信客服 API
// access, whose callback URL is /wecom/kf/{id}.
type AccountConfig struct {
	// ID names the account in the callback URL. REQUIRED.
	ID string `yaml:"id"`
	// CorpID is the corp's id (企业ID): the receive id of every encrypted
	// callback and the corpid of gettoken. REQUIRED.
	CorpID string `yaml:"corp_id"`
	// Secret is the 微信客服 Secret (微信客服 → API → Secret), not an app's:
	// it has its own access token. REQUIRED.
	Secret string `yaml:"secret"`
	// Token and EncodingAESKey are the callback settings of 微信客服 → API. REQUIRED.
	Token          string `yaml:"token"`
	EncodingAESKey string `yaml:"encoding_aes_key"`
	// APIBase replaces https://qyapi.weixin.qq.com for every outbound call
	// (CONTRACT.md "api_base"); empty = the platform's host.
	APIBase string `yaml:"api_base"`
	// OpenKfIDs limits the account to these 客服账号 (open_kfid "wk...");
	// empty = every kf account of the corp that the API may use.
	OpenKfIDs []string `yaml:"open_kfids"`
	// Timeout bounds each outbound API call.
	Timeout time.Duration `yaml:"timeout"`
	// MaxSkew is how far a callback's timestamp may be from the local clock
	// before the request is refused as a replay.
	MaxSkew time.Duration `yaml:"max_skew"`
	// StateCache is how long a conversation's session state (service_state/get)
	// is trusted before the next send checks it again; 0 checks before every
	// send. Session-change events from sync_msg drop it at once.
	StateCache time.Duration `yaml:"state_cache"`
	// Sync tunes the sync_msg worker.
	Sync SyncConfig `yaml:"sync"`
}

// SyncConfig tunes pulling messages with sync_msg.
type SyncConfig struct {
	// Limit is the page size asked of sync_msg (the platform allows ≤1000).
	Limit int `yaml:"limit"`
	// MaxPages is how many pages one task pulls before handing over to a
	// fresh task, so one busy kf account cannot hold a worker forever.
	MaxPages int `yaml:"max_pages"`
	// Concurrency is how many conversations of one page are handled at once;
	// each conversation's messages are handled one after another, in order.
	Concurrency int `yaml:"concurrency"`
	// LockTTL bounds how long a crashed worker's pull lock blocks the next;
	// a live worker renews it after every page.
	LockTTL time.Duration `yaml:"lock_ttl"`
	// LockWait is how long a task waits for another worker's pull to end
	// before it gives up and is retried.
	LockWait time.Duration `yaml:"lock_wait"`
}

// Defaults.
const (
	DefaultTimeout = 10 * time.Second
	// MaxTextBytes is the longest text of one 微信客服 message (PROTOCOLS.md §3.3).
	MaxTextBytes = 2048
)

func defaultAccount() AccountConfig {
	return AccountConfig{
		Timeout:    DefaultTimeout,
		MaxSkew:    wxcrypto.DefaultMaxSkew,
		StateCache: 10 * time.Second,
		Sync:       SyncConfig{Limit: 1000, MaxPages: 100, Concurrency: 8, LockTTL: 2 * time.Minute, LockWait: 30 * time.Second},
	}
}

var (
	idPattern       = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	tokenPattern    = regexp.MustCompile(`^[A-Za-z0-9]{1,32}$`)
	openKfIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
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
	if c.Secret == "" {
		errs = append(errs, config.Errorf("secret", "REQUIRED: the 微信客服 Secret"))
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
	for i, id := range c.OpenKfIDs {
		if !openKfIDPattern.MatchString(id) {
			errs = append(errs, config.Errorf("open_kfids["+itoa(i)+"]", "must be an open_kfid such as wkAbC123 (got %q)", id))
		}
	}
	if c.Timeout < 100*time.Millisecond || c.Timeout > 2*time.Minute {
		errs = append(errs, config.Errorf("timeout", "must be between 100ms and 2m (got %s)", c.Timeout))
	}
	if c.MaxSkew < 30*time.Second || c.MaxSkew > 24*time.Hour {
		errs = append(errs, config.Errorf("max_skew", "must be between 30s and 24h (got %s)", c.MaxSkew))
	}
	if c.StateCache < 0 || c.StateCache > 10*time.Minute {
		errs = append(errs, config.Errorf("state_cache", "must be between 0 and 10m (got %s)", c.StateCache))
	}
	s := c.Sync
	if s.Limit < 1 || s.Limit > 1000 {
		errs = append(errs, config.Errorf("sync.limit", "must be between 1 and 1000 (got %d)", s.Limit))
	}
	if s.MaxPages < 1 {
		errs = append(errs, config.Errorf("sync.max_pages", "must be at least 1"))
	}
	if s.Concurrency < 1 || s.Concurrency > 256 {
		errs = append(errs, config.Errorf("sync.concurrency", "must be between 1 and 256"))
	}
	if s.LockTTL < 10*time.Second {
		errs = append(errs, config.Errorf("sync.lock_ttl", "must be at least 10s (got %s)", s.LockTTL))
	}
	if s.LockWait < 0 || s.LockWait > 10*time.Minute {
		errs = append(errs, config.Errorf("sync.lock_wait", "must be between 0 and 10m (got %s)", s.LockWait))
	}
	return config.Join(errs...)
}

// allows reports whether the account serves openKfID.
func (c *AccountConfig) allows(openKfID string) bool {
	if len(c.OpenKfIDs) == 0 {
		return true
	}
	for _, id := range c.OpenKfIDs {
		if id == openKfID {
			return true
		}
	}
	return false
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}
