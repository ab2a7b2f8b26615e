package web

import (
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/kefu-gateway/kefu/internal/config"
)

// SiteConfig is one entry of `channels.web`: a site embedding the widget.
type SiteConfig struct {
	// ID names the site in URLs (/api/web/{id}/..., data-site="{id}"). REQUIRED.
	ID string `yaml:"id"`
	// Title is shown in the widget's header.
	Title string `yaml:"title"`
	// AllowedOrigins lists the origins (scheme://host[:port]) whose pages may
	// call the API and open the WebSocket; "*" allows any. The page kefu
	// serves itself is always allowed. Requests without an Origin header
	// (servers, curl) are allowed: they still need a visitor token.
	AllowedOrigins []string `yaml:"allowed_origins"`
	// TokenSecret signs visitor tokens. Empty: a random secret generated once
	// and shared through Redis by every kefu process.
	TokenSecret string `yaml:"token_secret"`
	// TokenTTL is how long a visitor token is valid.
	TokenTTL time.Duration `yaml:"token_ttl"`
	// ReplyWait is how long POST /messages waits for replies before
	// answering; later replies arrive by WebSocket or GET.
	ReplyWait time.Duration `yaml:"reply_wait"`
	// MaxTextBytes caps one visitor message (UTF-8 bytes).
	MaxTextBytes int `yaml:"max_text_bytes"`
	// MaxFrameBytes caps one WebSocket frame; a bigger frame closes that socket.
	MaxFrameBytes int `yaml:"max_frame_bytes"`
	// RateLimit caps messages per visitor: Messages within Per (429 beyond).
	RateLimit RateLimit `yaml:"rate_limit"`
	// Color is the widget's accent colour (CSS colour).
	Color string `yaml:"color"`
}

// RateLimit is a fixed-window limit.
type RateLimit struct {
	Messages int           `yaml:"messages"`
	Per      time.Duration `yaml:"per"`
}

func defaultSite() SiteConfig {
	return SiteConfig{
		Title:         "在线客服",
		TokenTTL:      30 * 24 * time.Hour,
		ReplyWait:     3 * time.Second,
		MaxTextBytes:  4000,
		MaxFrameBytes: 16 << 10,
		RateLimit:     RateLimit{Messages: 20, Per: 10 * time.Second},
		Color:         "#07c160",
	}
}

var (
	idPattern    = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	colorPattern = regexp.MustCompile(`^(#[0-9A-Fa-f]{3,8}|[a-z]+)$`)
)

// Validate checks one site.
func (c *SiteConfig) Validate() error {
	var errs []error
	if !idPattern.MatchString(c.ID) {
		errs = append(errs, config.Errorf("id", "REQUIRED: 1-64 letters, digits, '-' or '_' (got %q)", c.ID))
	}
	for i, o := range c.AllowedOrigins {
		if o == "*" {
			continue
		}
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			errs = append(errs, config.Errorf("allowed_origins["+itoa(i)+"]", "must be an origin like https://shop.example.com (got %q)", o))
		}
	}
	if c.TokenSecret != "" && len(c.TokenSecret) < 16 {
		errs = append(errs, config.Errorf("token_secret", "must be at least 16 characters (or empty to generate one)"))
	}
	if c.TokenTTL < time.Minute {
		errs = append(errs, config.Errorf("token_ttl", "must be at least 1m"))
	}
	if c.ReplyWait < 0 || c.ReplyWait > 30*time.Second {
		errs = append(errs, config.Errorf("reply_wait", "must be between 0 and 30s (got %s)", c.ReplyWait))
	}
	if c.MaxTextBytes < 1 || c.MaxTextBytes > 1<<20 {
		errs = append(errs, config.Errorf("max_text_bytes", "must be between 1 and 1048576"))
	}
	if c.MaxFrameBytes < 512 || c.MaxFrameBytes > 1<<20 {
		errs = append(errs, config.Errorf("max_frame_bytes", "must be between 512 and 1048576"))
	}
	if c.RateLimit.Messages < 1 {
		errs = append(errs, config.Errorf("rate_limit.messages", "must be at least 1"))
	}
	if c.RateLimit.Per < time.Second {
		errs = append(errs, config.Errorf("rate_limit.per", "must be at least 1s"))
	}
	if !colorPattern.MatchString(c.Color) {
		errs = append(errs, config.Errorf("color", "must be a CSS colour such as #07c160"))
	}
	return config.Join(errs...)
}

func (c *SiteConfig) originAllowed(origin, host string) bool {
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil {
		return false
	}
	if strings.EqualFold(u.Host, host) {
		return true
	}
	for _, o := range c.AllowedOrigins {
		if o == "*" || strings.EqualFold(strings.TrimSuffix(o, "/"), origin) {
			return true
		}
	}
	return false
}

func itoa(i int) string {
	const digits = "0123456789"
	if i < 10 {
		return digits[i : i+1]
	}
	return itoa(i/10) + digits[i%10:i%10+1]
}
