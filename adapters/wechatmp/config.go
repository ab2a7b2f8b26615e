package wechatmp

import (
	"time"

	"github.com/kefu-gateway/kefu/adapters/internal/wxaccount"
	"github.com/kefu-gateway/kefu/internal/config"
)

// AccountConfig is one entry of `channels.wechat_mp`.
type AccountConfig struct {
	wxaccount.Common `yaml:",inline"`

	// Format is the console's 数据格式 for message push: xml or json
	// (PROTOCOLS.md §2).
	Format string `yaml:"format"`
	// AckWait bounds how long a push waits to learn whether it is a retry
	// and whether kefu could take it (Redis answered) before `success`;
	// a failure within it is answered 500 so WeChat retries.
	AckWait time.Duration `yaml:"ack_wait"`
	// Typing shows the typing indicator when an answer takes longer than
	// TypingAfter.
	Typing      bool          `yaml:"typing"`
	TypingAfter time.Duration `yaml:"typing_after"`
	// MaxTextBytes cuts longer texts into parts sent in order.
	MaxTextBytes int `yaml:"max_text_bytes"`
	// SubscribeFallback sends a subscribe message (订阅消息) when the reply
	// window is closed or its quota spent. The customer must have accepted
	// the template in the mini-program (wx.requestSubscribeMessage).
	SubscribeFallback SubscribeFallback `yaml:"subscribe_fallback"`
}

// SubscribeFallback is the subscribe message sent outside the window.
type SubscribeFallback struct {
	wxaccount.TemplateFallback `yaml:",inline"`
	// Page is the mini-program page a tap opens (with query), optional.
	Page string `yaml:"page"`
	// State is the mini-program version the tap opens: formal, trial or
	// developer.
	State string `yaml:"miniprogram_state"`
}

// Formats of the push body.
const (
	FormatXML  = "xml"
	FormatJSON = "json"
)

// Defaults.
const (
	DefaultAckWait      = time.Second
	DefaultTypingAfter  = time.Second
	DefaultMaxTextBytes = 2048
)

func defaultAccount() AccountConfig {
	return AccountConfig{
		Common:       wxaccount.DefaultCommon(),
		Format:       FormatXML,
		AckWait:      DefaultAckWait,
		Typing:       true,
		TypingAfter:  DefaultTypingAfter,
		MaxTextBytes: DefaultMaxTextBytes,
		SubscribeFallback: SubscribeFallback{
			TemplateFallback: wxaccount.DefaultTemplateFallback(),
			State:            "formal",
		},
	}
}

// Validate checks one account.
func (c *AccountConfig) Validate() error {
	errs := c.Common.Validate(true)
	if c.Format != FormatXML && c.Format != FormatJSON {
		errs = append(errs, config.Errorf("format", "must be xml or json, as set in the console (got %q)", c.Format))
	}
	if c.AckWait < 50*time.Millisecond || c.AckWait > 4*time.Second {
		errs = append(errs, config.Errorf("ack_wait", "must be between 50ms and 4s: WeChat gives up after 5s (got %s)", c.AckWait))
	}
	if c.TypingAfter < 0 || c.TypingAfter > time.Minute {
		errs = append(errs, config.Errorf("typing_after", "must be between 0 and 1m (got %s)", c.TypingAfter))
	}
	if c.MaxTextBytes < 256 || c.MaxTextBytes > 2048 {
		errs = append(errs, config.Errorf("max_text_bytes", "must be between 256 and 2048 (got %d)", c.MaxTextBytes))
	}
	errs = append(errs, c.SubscribeFallback.Validate("subscribe_fallback")...)
	switch c.SubscribeFallback.State {
	case "formal", "trial", "developer":
	default:
		errs = append(errs, config.Errorf("subscribe_fallback.miniprogram_state", "must be formal, trial or developer (got %q)", c.SubscribeFallback.State))
	}
	return config.Join(errs...)
}
