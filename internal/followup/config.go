package followup

import (
	"fmt"
	"net/url"
	"regexp"
	"time"

	"github.com/kefu-gateway/kefu/internal/config"
	"gopkg.in/yaml.v3"
)

// Config is the `followups:` block.
type Config struct {
	// MaxDelay is the furthest ahead a follow-up may be scheduled.
	MaxDelay time.Duration `yaml:"max_delay"`
	// Retention is how long finished follow-ups stay listed.
	Retention time.Duration `yaml:"retention"`
	// MaxPerContact bounds a contact's pending follow-ups.
	MaxPerContact int `yaml:"max_per_contact"`
	// SendTimeout bounds one platform call.
	SendTimeout time.Duration `yaml:"send_timeout"`
	// WindowFallback is what to send when a follow-up falls due outside the
	// platform's reply window (WeChat: 48 h after the customer's last
	// message): a pre-approved template message, per channel or account.
	// Without a line for the channel the follow-up is skipped with the reason.
	WindowFallback []TemplateFallback `yaml:"window_fallback"`
}

// TemplateFallback is one line of followups.window_fallback.
type TemplateFallback struct {
	Channel string `yaml:"channel"`
	// Account narrows the line to one account; empty = every account.
	Account string `yaml:"account"`
	// TemplateID is the platform's template (WeChat template message or
	// mini-program subscribe message id).
	TemplateID string `yaml:"template_id"`
	// URL is opened when the customer taps the message (optional).
	URL string `yaml:"url"`
	// Fields maps the template's field names to values. Values may use
	// {{text}} (the follow-up's text), {{name}} (the contact's name),
	// {{attr.KEY}} (a contact attribute) and {{date}} (today, YYYY-MM-DD
	// in the contact's time zone).
	Fields map[string]string `yaml:"fields"`
}

// Defaults returns the followups defaults.
func Defaults() Config {
	return Config{MaxDelay: 90 * 24 * time.Hour, Retention: 30 * 24 * time.Hour, MaxPerContact: 50, SendTimeout: 15 * time.Second}
}

var placeholder = regexp.MustCompile(`\{\{\s*([^{}]*?)\s*\}\}`)
var placeholderName = regexp.MustCompile(`^(text|name|date|attr\.[A-Za-z0-9_.-]{1,64})$`)

// Validate checks the block.
func (c *Config) Validate() error {
	var errs []error
	if c.MaxDelay < time.Minute {
		errs = append(errs, config.Errorf("max_delay", "must be at least 1m"))
	}
	if c.Retention < time.Hour {
		errs = append(errs, config.Errorf("retention", "must be at least 1h"))
	}
	if c.MaxPerContact < 1 || c.MaxPerContact > 1000 {
		errs = append(errs, config.Errorf("max_per_contact", "must be between 1 and 1000"))
	}
	if c.SendTimeout < time.Second {
		errs = append(errs, config.Errorf("send_timeout", "must be at least 1s"))
	}
	seen := map[string]bool{}
	for i, f := range c.WindowFallback {
		p := fmt.Sprintf("window_fallback[%d]", i)
		if f.Channel == "" {
			errs = append(errs, config.Errorf(p+".channel", "must name a channel kind such as wechat_oa"))
		}
		if f.TemplateID == "" {
			errs = append(errs, config.Errorf(p+".template_id", "must not be empty"))
		}
		if len(f.Fields) == 0 {
			errs = append(errs, config.Errorf(p+".fields", "must map at least one template field"))
		}
		if f.URL != "" {
			if u, err := url.Parse(f.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") {
				errs = append(errs, config.Errorf(p+".url", "must be an http(s) URL"))
			}
		}
		for name, v := range f.Fields {
			for _, m := range placeholder.FindAllStringSubmatch(v, -1) {
				if !placeholderName.MatchString(m[1]) {
					errs = append(errs, config.Errorf(p+".fields."+name, "unknown placeholder {{%s}} (use text, name, date or attr.KEY)", m[1]))
				}
			}
		}
		k := f.Channel + "/" + f.Account
		if seen[k] {
			errs = append(errs, config.Errorf(p, "duplicate line for %s", k))
		}
		seen[k] = true
	}
	return config.Join(errs...)
}

// fallback finds the template line of a channel account.
func (c *Config) fallback(channel, account string) (TemplateFallback, bool) {
	var any TemplateFallback
	found := false
	for _, f := range c.WindowFallback {
		if f.Channel != channel {
			continue
		}
		if f.Account == account {
			return f, true
		}
		if f.Account == "" {
			any, found = f, true
		}
	}
	return any, found
}

// DecodeConfig decodes the `followups:` node (nil = defaults).
func DecodeConfig(node *yaml.Node, file string) (Config, error) {
	cfg := Defaults()
	err := config.Decode(node, &cfg, file, "followups")
	return cfg, err
}
