package router

import (
	"time"

	"github.com/kefu-gateway/kefu/internal/config"
)

// Config is the `router:` block.
type Config struct {
	// DedupTTL is how long an inbound message id is remembered. WeChat retries
	// for ~15 s and DingTalk stream may redeliver later, so keep it ≥ 1 h.
	DedupTTL time.Duration `yaml:"dedup_ttl"`
	// StateTTL is how long an idle conversation's state is kept.
	StateTTL time.Duration `yaml:"state_ttl"`
	// TranscriptMax caps each conversation's transcript (approximate, oldest dropped).
	TranscriptMax int `yaml:"transcript_max"`
	// TranscriptTTL is how long an idle conversation's transcript is kept.
	TranscriptTTL time.Duration `yaml:"transcript_ttl"`
	// TurnTimeout bounds the handling of one inbound message, LLM calls included.
	TurnTimeout time.Duration `yaml:"turn_timeout"`
	// BotName is shown as the sender of the bot's messages where channels show names.
	BotName string `yaml:"bot_name"`
	// FallbackText answers what nothing else could, offering a human.
	FallbackText string `yaml:"fallback_text"`
	// UnsupportedText answers messages kefu cannot read (stickers, files ...).
	UnsupportedText string `yaml:"unsupported_text"`

	// TwoTrips sends every turn through the two-trip path, never the
	// one-trip one (see Router.oneTrip); not a configuration key: tests
	// compare the two paths with it.
	TwoTrips bool `yaml:"-"`
}

// Defaults returns the router defaults.
func Defaults() Config {
	return Config{
		DedupTTL:        24 * time.Hour,
		StateTTL:        30 * 24 * time.Hour,
		TranscriptMax:   1000,
		TranscriptTTL:   90 * 24 * time.Hour,
		TurnTimeout:     60 * time.Second,
		BotName:         "智能客服",
		FallbackText:    "抱歉，我没能理解您的意思。您可以换个说法再问一次，或回复“人工”联系人工客服。",
		UnsupportedText: "抱歉，我暂时只能看懂文字消息，请用文字描述您的问题。",
	}
}

// Validate checks the router configuration.
func (c *Config) Validate() error {
	var errs []error
	if c.DedupTTL < time.Hour {
		errs = append(errs, config.Errorf("dedup_ttl", "must be at least 1h: platforms retry and redeliver (got %s)", c.DedupTTL))
	}
	if c.StateTTL < time.Hour {
		errs = append(errs, config.Errorf("state_ttl", "must be at least 1h (got %s)", c.StateTTL))
	}
	if c.TranscriptMax < 10 {
		errs = append(errs, config.Errorf("transcript_max", "must be at least 10 (got %d)", c.TranscriptMax))
	}
	if c.TranscriptTTL < time.Hour {
		errs = append(errs, config.Errorf("transcript_ttl", "must be at least 1h (got %s)", c.TranscriptTTL))
	}
	if c.TurnTimeout < time.Second {
		errs = append(errs, config.Errorf("turn_timeout", "must be at least 1s (got %s)", c.TurnTimeout))
	}
	if c.FallbackText == "" {
		errs = append(errs, config.Errorf("fallback_text", "must not be empty"))
	}
	if c.UnsupportedText == "" {
		errs = append(errs, config.Errorf("unsupported_text", "must not be empty"))
	}
	return config.Join(errs...)
}
