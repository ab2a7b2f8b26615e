// Package llm is kefu's client for any OpenAI-compatible server (through
// github.com/sashabaranov/go-openai): grounded answers built only from the
// business's own documents, streaming token by token, bounded retries that
// honour Retry-After, a circuit breaker, typed errors the router can answer
// gracefully inside a channel's budget, embeddings for the knowledge base,
// intent classification for flows, and metrics hooks.
//
// The model never triggers anything by itself: no tools are offered, and its
// output is text the router sends or, when it carries NoAnswerMarker, a
// signal to offer a human instead.
package llm

import (
	"github.com/kefu-gateway/kefu/internal/config"
	"net/url"
	"time"
)

// Config is the `llm:` block of kefu.yaml. An empty BaseURL means no LLM.
type Config struct {
	// BaseURL is the server's API root including its version path, for
	// example "https://api.openai.com/v1" or "http://127.0.0.1:11434/v1".
	BaseURL string `yaml:"base_url" json:"base_url"`
	APIKey  string `yaml:"api_key" json:"-"`
	// Model is the chat model (default gpt-4o-mini).
	Model string `yaml:"model" json:"model"`
	// Timeout bounds one attempt of one request, a whole stream included
	// (default 20s). The caller's context bounds all attempts together.
	Timeout time.Duration `yaml:"timeout" json:"timeout"`
	// Temperature of chat completions (default 0.2: grounded answers should
	// not be creative).
	Temperature *float32 `yaml:"temperature" json:"temperature,omitempty"`
	// MaxTokens caps an answer's length (default 512).
	MaxTokens int `yaml:"max_tokens" json:"max_tokens"`
	// SystemPrompt is the persona put before kefu's grounding rules, for
	// example "你是「小店」的客服小美，语气亲切。" (default DefaultPersona).
	SystemPrompt string `yaml:"system_prompt" json:"system_prompt"`
	// MaxHistoryTurns is how many recent conversation turns go with a
	// grounded question (default 6).
	MaxHistoryTurns int `yaml:"max_history_turns" json:"max_history_turns"`

	// Retries is how many times a failed attempt (429, 5xx, connection
	// error) is retried (default 2; 0 = DefaultRetries, negative = none).
	Retries int `yaml:"retries" json:"retries"`
	// RetryBackoff is the first retry's delay, doubled each retry (default
	// 500ms), unless the server sends Retry-After.
	RetryBackoff time.Duration `yaml:"retry_backoff" json:"retry_backoff"`
	// MaxRetryAfter: a Retry-After longer than this (default 10s) is not
	// waited for; the request fails with ErrRateLimited at once.
	MaxRetryAfter time.Duration `yaml:"max_retry_after" json:"max_retry_after"`

	// BreakerFailures consecutive failed attempts open the circuit breaker
	// (default 5); BreakerCooldown later one probe request is let through
	// (default 30s).
	BreakerFailures int           `yaml:"breaker_failures" json:"breaker_failures"`
	BreakerCooldown time.Duration `yaml:"breaker_cooldown" json:"breaker_cooldown"`

	// EmbeddingModel turns on embeddings (hybrid knowledge retrieval,
	// intent classification by similarity); empty = none.
	EmbeddingModel string `yaml:"embedding_model" json:"embedding_model"`
	// StreamUsage asks the server for token usage at the end of a stream
	// (stream_options.include_usage; default true). Turn it off for servers
	// that reject the option.
	StreamUsage *bool `yaml:"stream_usage" json:"stream_usage,omitempty"`
	// Intents configures how flows' intent triggers are recognised.
	Intents IntentConfig `yaml:"intents" json:"intents"`
}

// Defaults of Config.
const (
	DefaultModel           = "gpt-4o-mini"
	DefaultTimeout         = 20 * time.Second
	DefaultTemperature     = float32(0.2)
	DefaultMaxTokens       = 512
	DefaultMaxHistoryTurns = 6
	DefaultRetries         = 2
	DefaultRetryBackoff    = 500 * time.Millisecond
	DefaultMaxRetryAfter   = 10 * time.Second
	DefaultBreakerFailures = 5
	DefaultBreakerCooldown = 30 * time.Second
	DefaultPersona         = "你是本店的在线客服助手，语气亲切、礼貌、简洁。"
)

// Enabled reports whether an LLM is configured.
func (c Config) Enabled() bool { return c.BaseURL != "" }

// WithDefaults returns c with every unset field set to its default.
func (c Config) WithDefaults() Config {
	if c.Model == "" {
		c.Model = DefaultModel
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Temperature == nil {
		t := DefaultTemperature
		c.Temperature = &t
	}
	if c.MaxTokens == 0 {
		c.MaxTokens = DefaultMaxTokens
	}
	if c.SystemPrompt == "" {
		c.SystemPrompt = DefaultPersona
	}
	if c.MaxHistoryTurns == 0 {
		c.MaxHistoryTurns = DefaultMaxHistoryTurns
	}
	if c.Retries == 0 {
		c.Retries = DefaultRetries
	} else if c.Retries < 0 {
		c.Retries = 0
	}
	if c.RetryBackoff == 0 {
		c.RetryBackoff = DefaultRetryBackoff
	}
	if c.MaxRetryAfter == 0 {
		c.MaxRetryAfter = DefaultMaxRetryAfter
	}
	if c.BreakerFailures == 0 {
		c.BreakerFailures = DefaultBreakerFailures
	}
	if c.BreakerCooldown == 0 {
		c.BreakerCooldown = DefaultBreakerCooldown
	}
	if c.StreamUsage == nil {
		t := true
		c.StreamUsage = &t
	}
	return c
}

// Validate reports a configuration that cannot work. A config without
// BaseURL is valid: it means no LLM.
func (c Config) Validate() error {
	var errs []error
	if c.BaseURL != "" {
		u, err := url.Parse(c.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, config.Errorf("base_url", "must be an http(s) URL such as https://api.openai.com/v1 (got %q)", c.BaseURL))
		}
	}
	for name, d := range map[string]time.Duration{"timeout": c.Timeout, "retry_backoff": c.RetryBackoff,
		"max_retry_after": c.MaxRetryAfter, "breaker_cooldown": c.BreakerCooldown} {
		if d < 0 {
			errs = append(errs, config.Errorf(name, "must not be negative"))
		}
	}
	if c.Temperature != nil && (*c.Temperature < 0 || *c.Temperature > 2) {
		errs = append(errs, config.Errorf("temperature", "must be between 0 and 2, got %v", *c.Temperature))
	}
	for name, n := range map[string]int{"max_tokens": c.MaxTokens, "max_history_turns": c.MaxHistoryTurns, "breaker_failures": c.BreakerFailures} {
		if n < 0 {
			errs = append(errs, config.Errorf(name, "must not be negative"))
		}
	}
	if c.Retries > 10 {
		errs = append(errs, config.Errorf("retries", "must be at most 10, got %d", c.Retries))
	}
	return config.Join(errs...)
}
