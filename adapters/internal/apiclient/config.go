package apiclient

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// Platform is an API family with its own host, token placement and error shape.
type Platform int

// Platforms.
const (
	// WeChat is api.weixin.qq.com: official accounts and mini-programs.
	WeChat Platform = iota + 1
	// WeCom is qyapi.weixin.qq.com: self-built apps and 微信客服.
	WeCom
	// DingTalk is api.dingtalk.com (the v1.0 OpenAPI). Session webhooks on
	// oapi.dingtalk.com are called by absolute URL.
	DingTalk
)

// String names the platform for errors.
func (p Platform) String() string {
	switch p {
	case WeChat:
		return "wechat"
	case WeCom:
		return "wecom"
	case DingTalk:
		return "dingtalk"
	}
	return fmt.Sprintf("platform(%d)", int(p))
}

// DefaultBase returns the platform's own API origin.
func (p Platform) DefaultBase() string {
	switch p {
	case WeChat:
		return "https://api.weixin.qq.com"
	case WeCom:
		return "https://qyapi.weixin.qq.com"
	case DingTalk:
		return "https://api.dingtalk.com"
	}
	return ""
}

// Defaults.
const (
	DefaultTimeout          = 10 * time.Second
	DefaultMaxResponseBytes = 16 << 20 // a 微信客服 sync_msg page of 1000 messages fits
)

// Config is one account's outbound HTTP configuration.
type Config struct {
	// APIBase replaces the scheme and host (and prefixes the path, if it has
	// one) of every call of the account: a forward proxy with a fixed egress
	// IP in production, an httptest fake in tests. Empty means the platform's
	// own host (CONTRACT.md "api_base").
	APIBase string
	// Timeout bounds each HTTP request, including reading the body.
	// Zero means DefaultTimeout.
	Timeout time.Duration
	// MaxResponseBytes bounds a response body. Zero means DefaultMaxResponseBytes.
	MaxResponseBytes int64
	// Transport sends the requests; nil means a clone of http.DefaultTransport.
	Transport http.RoundTripper
}

// ErrInvalidConfig reports a configuration problem.
var ErrInvalidConfig = errors.New("invalid api client configuration")

// Validate checks APIBase and the limits.
func (c Config) Validate() error {
	if c.Timeout < 0 {
		return fmt.Errorf("%w: negative timeout", ErrInvalidConfig)
	}
	if c.MaxResponseBytes < 0 {
		return fmt.Errorf("%w: negative max response bytes", ErrInvalidConfig)
	}
	if c.APIBase == "" {
		return nil
	}
	u, err := url.Parse(c.APIBase)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%w: api_base must be an http(s) origin such as https://proxy.example:8443, optionally with a path", ErrInvalidConfig)
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.MaxResponseBytes == 0 {
		c.MaxResponseBytes = DefaultMaxResponseBytes
	}
	return c
}
