package wechatoa

import (
	"time"

	"github.com/kefu-gateway/kefu/adapters/internal/wxaccount"
	"github.com/kefu-gateway/kefu/internal/config"
)

// AccountConfig is one entry of `channels.wechat_oa`.
type AccountConfig struct {
	wxaccount.Common `yaml:",inline"`

	// Verified says the account has the customer-service API (认证服务号 or
	// 认证订阅号). Unverified accounts can only answer inside the callback
	// (PROTOCOLS.md §1.5 note): a reply that misses the passive budget is
	// kept and delivered with the customer's next message.
	Verified bool `yaml:"verified"`
	// PassiveBudget is how long a callback waits for the answer to reply
	// with it directly. WeChat drops the connection after 5 s and retries
	// (PROTOCOLS.md §1.2), so it must stay below that.
	PassiveBudget time.Duration `yaml:"passive_budget"`
	// Typing shows the typing indicator while a verified account's answer
	// takes longer than the passive budget.
	Typing bool `yaml:"typing"`
	// DeferredHint is the passive reply of an unverified account whose
	// answer missed the budget: the answer comes with the next message.
	DeferredHint string `yaml:"deferred_hint"`
	// MoreHint ends an unverified account's passive reply when more replies
	// wait for the customer's next message.
	MoreHint string `yaml:"more_hint"`
	// TemplateFallback sends through a template message when the reply
	// window is closed or its quota spent (verified accounts).
	TemplateFallback wxaccount.TemplateFallback `yaml:"template_fallback"`
}

// Defaults.
const (
	DefaultPassiveBudget = 4 * time.Second
	DefaultDeferredHint  = "正在为您查询，请稍后回复任意内容获取结果。"
	DefaultMoreHint      = "（回复任意内容查看后续消息）"
	// MaxPassiveBudget leaves the reply time to reach WeChat before its
	// 5-second cut-off.
	MaxPassiveBudget = 4500 * time.Millisecond
	// maxTextBytes is WeChat's text limit (PROTOCOLS.md §1.4).
	maxTextBytes = 2048
)

func defaultAccount() AccountConfig {
	return AccountConfig{
		Common:           wxaccount.DefaultCommon(),
		PassiveBudget:    DefaultPassiveBudget,
		Typing:           true,
		DeferredHint:     DefaultDeferredHint,
		MoreHint:         DefaultMoreHint,
		TemplateFallback: wxaccount.DefaultTemplateFallback(),
	}
}

// Validate checks one account.
func (c *AccountConfig) Validate() error {
	errs := c.Common.Validate(c.Verified)
	if c.PassiveBudget < 100*time.Millisecond || c.PassiveBudget > MaxPassiveBudget {
		errs = append(errs, config.Errorf("passive_budget", "must be between 100ms and %s: WeChat gives up after 5s (got %s)", MaxPassiveBudget, c.PassiveBudget))
	}
	if c.MergeWindow > 0 && c.MergeWindow+time.Second > c.PassiveBudget {
		errs = append(errs, config.Errorf("merge_window", "must leave the answer at least 1s of passive_budget (%s): at most %s, or 0 (got %s)",
			c.PassiveBudget, c.PassiveBudget-time.Second, c.MergeWindow))
	}
	if !c.Verified && c.DeferredHint == "" {
		errs = append(errs, config.Errorf("deferred_hint", "must not be empty for an unverified account: the customer would see nothing while the answer is prepared"))
	}
	if len(c.DeferredHint) > maxTextBytes/2 {
		errs = append(errs, config.Errorf("deferred_hint", "must be at most %d bytes", maxTextBytes/2))
	}
	if len(c.MoreHint) > 200 {
		errs = append(errs, config.Errorf("more_hint", "must be at most 200 bytes"))
	}
	errs = append(errs, c.TemplateFallback.Validate("template_fallback")...)
	if c.TemplateFallback.Enabled() && !c.Verified {
		errs = append(errs, config.Errorf("template_fallback.template_id", "needs verified: true (template messages are an API of verified accounts)"))
	}
	return config.Join(errs...)
}

// maxText is the text limit of one message: WeChat's 2048 bytes, less the
// room an unverified account keeps for the more hint.
func (c *AccountConfig) maxText() int {
	if !c.Verified && c.MoreHint != "" {
		return maxTextBytes - len(c.MoreHint) - 1
	}
	return maxTextBytes
}
