// Package wxaccount is what the official-account (wechat_oa) and mini-program
// (wechat_mp) channels share: the account settings both configure the same
// way, opening a callback request with the status every failure deserves,
// the customer-service API client with its Redis-shared access token, and
// template-message field rendering for sends outside the reply window.
package wxaccount

import (
	"fmt"
	"regexp"
	"time"

	"github.com/kefu-gateway/kefu/adapters/internal/apiclient"
	"github.com/kefu-gateway/kefu/adapters/internal/wxcrypto"
	"github.com/kefu-gateway/kefu/internal/config"
)

// Encryption is the console's 消息加解密方式 (PROTOCOLS.md §1.1): which
// callback requests an account accepts.
type Encryption string

// Encryption modes.
const (
	// EncryptionAuto accepts plain requests (checked with the token's
	// signature) and, when encoding_aes_key is set, encrypted ones: right for
	// every console setting, and for switching between them without a
	// restart.
	EncryptionAuto Encryption = "auto"
	// EncryptionPlain (明文模式) accepts plain requests only.
	EncryptionPlain Encryption = "plain"
	// EncryptionCompatible (兼容模式) accepts both; encoding_aes_key required.
	EncryptionCompatible Encryption = "compatible"
	// EncryptionSafe (安全模式) accepts encrypted requests only;
	// encoding_aes_key required.
	EncryptionSafe Encryption = "safe"
)

// Common is the part of an official account's or mini-program's settings
// the two channels share. Channel configs embed it inline.
type Common struct {
	// ID names the account in the callback path (/wechat/oa/{id}). REQUIRED.
	ID string `yaml:"id"`
	// AppID and AppSecret are the account's developer credentials
	// (开发者ID), for the customer-service API.
	AppID     string `yaml:"app_id"`
	AppSecret string `yaml:"app_secret"`
	// Token is the callback token (令牌) set in the console. REQUIRED.
	Token string `yaml:"token"`
	// EncodingAESKey is the 43-character key (消息加解密密钥) of compatible
	// and safe mode.
	EncodingAESKey string `yaml:"encoding_aes_key"`
	// Encryption is the console's message encryption mode.
	Encryption Encryption `yaml:"encryption"`
	// APIBase replaces https://api.weixin.qq.com for every outbound call
	// (a forward proxy with a whitelisted egress IP; a fake in tests).
	APIBase string `yaml:"api_base"`
	// APITimeout bounds each outbound API call.
	APITimeout time.Duration `yaml:"timeout"`
	// StableToken fetches access tokens with /cgi-bin/stable_token, which
	// does not invalidate tokens other programs of the same AppID hold
	// (PROTOCOLS.md §1.7); false uses /cgi-bin/token.
	StableToken bool `yaml:"stable_token"`
	// MaxSkew is the replay window: a callback whose timestamp is further
	// from kefu's clock is refused. WeChat retries for about 15 s.
	MaxSkew time.Duration `yaml:"max_skew"`
	// MergeWindow merges a burst of short texts from one customer into one
	// turn answered once (adapters.Capabilities.MergeWindow; LESSONS.md
	// "Bursts of short messages"). 0 answers every text alone.
	MergeWindow time.Duration `yaml:"merge_window"`
}

// DefaultMergeWindow is how long a short text waits for the next one of a
// burst.
const DefaultMergeWindow = 1500 * time.Millisecond

// DefaultCommon returns the defaults of the shared settings.
func DefaultCommon() Common {
	return Common{
		Encryption:  EncryptionAuto,
		APITimeout:  apiclient.DefaultTimeout,
		StableToken: true,
		MaxSkew:     wxcrypto.DefaultMaxSkew,
		MergeWindow: DefaultMergeWindow,
	}
}

var (
	idPattern    = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	appIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	// The console accepts 3-32 letters and digits as the token.
	tokenPattern = regexp.MustCompile(`^[A-Za-z0-9]{3,32}$`)
)

// Validate checks the shared settings. needSecret says whether the account
// uses the API (and so needs app_secret). Messages never echo a secret.
func (c *Common) Validate(needSecret bool) []error {
	var errs []error
	if !idPattern.MatchString(c.ID) {
		errs = append(errs, config.Errorf("id", "REQUIRED: 1-64 letters, digits, '-' or '_' (got %q)", c.ID))
	}
	if !appIDPattern.MatchString(c.AppID) {
		errs = append(errs, config.Errorf("app_id", "REQUIRED: the account's AppID from the console, such as wx1234567890abcdef"))
	}
	if needSecret && c.AppSecret == "" {
		errs = append(errs, config.Errorf("app_secret", "REQUIRED for the customer-service API (use ${VAR} to keep it out of the file)"))
	}
	if !tokenPattern.MatchString(c.Token) {
		errs = append(errs, config.Errorf("token", "REQUIRED: the callback token set in the console, 3-32 letters and digits (value not shown)"))
	}
	if c.EncodingAESKey != "" {
		if _, err := wxcrypto.ParseAESKey(c.EncodingAESKey); err != nil {
			errs = append(errs, config.Errorf("encoding_aes_key", "must be the console's 43 letters and digits (value not shown)"))
		}
	}
	switch c.Encryption {
	case EncryptionAuto, EncryptionPlain:
	case EncryptionCompatible, EncryptionSafe:
		if c.EncodingAESKey == "" {
			errs = append(errs, config.Errorf("encoding_aes_key", "REQUIRED with encryption: %s", c.Encryption))
		}
	default:
		errs = append(errs, config.Errorf("encryption", "must be auto, plain, compatible or safe (got %q)", c.Encryption))
	}
	if err := (apiclient.Config{APIBase: c.APIBase}).Validate(); err != nil {
		errs = append(errs, config.Errorf("api_base", "must be an http(s) origin such as https://proxy.example:8443, optionally with a path (got %q)", c.APIBase))
	}
	if c.APITimeout < 100*time.Millisecond || c.APITimeout > time.Minute {
		errs = append(errs, config.Errorf("timeout", "must be between 100ms and 1m (got %s)", c.APITimeout))
	}
	if c.MaxSkew < 30*time.Second || c.MaxSkew > 24*time.Hour {
		errs = append(errs, config.Errorf("max_skew", "must be between 30s (WeChat retries for ~15s) and 24h (got %s)", c.MaxSkew))
	}
	if c.MergeWindow < 0 || c.MergeWindow > 10*time.Second {
		errs = append(errs, config.Errorf("merge_window", "must be between 0 and 10s (got %s)", c.MergeWindow))
	}
	return errs
}

// Crypter returns the account's callback verifier. now is the clock of the
// replay check.
func (c *Common) Crypter(now func() time.Time) (*wxcrypto.Crypter, error) {
	cr, err := wxcrypto.New(wxcrypto.Config{
		Token:             c.Token,
		EncodingAESKey:    c.EncodingAESKey,
		ReceiveID:         c.AppID,
		RequireEncryption: c.Encryption == EncryptionSafe,
		MaxSkew:           c.MaxSkew,
		Now:               now,
	})
	if err != nil {
		return nil, fmt.Errorf("configuring account %s: %w", c.ID, err)
	}
	return cr, nil
}
