package wxaccount

import (
	"strings"
	"time"
	"unicode/utf8"

	"github.com/kefu-gateway/kefu/internal/config"
)

// TemplateFallback sends a message through a template (official account) or
// subscribe message (mini-program) when the customer's reply window is
// closed or its quota spent, instead of recording it as undeliverable
// (LESSONS.md "Quotas and windows ignored").
type TemplateFallback struct {
	// TemplateID is the approved template; empty = no fallback.
	TemplateID string `yaml:"template_id"`
	// Fields maps each template field to its value. In values, {{text}} is
	// the message text and {{time}} the send time (2006-01-02 15:04, UTC+8).
	Fields map[string]string `yaml:"fields"`
	// MaxValueRunes cuts each value to this many characters (with …):
	// template fields such as thing.DATA take at most 20.
	MaxValueRunes int `yaml:"max_value_runes"`
}

// DefaultTemplateFallback is off, cutting values at 20 characters.
func DefaultTemplateFallback() TemplateFallback { return TemplateFallback{MaxValueRunes: 20} }

// Enabled reports whether a template is configured.
func (f *TemplateFallback) Enabled() bool { return f.TemplateID != "" }

// Validate checks the fallback.
func (f *TemplateFallback) Validate(prefix string) []error {
	var errs []error
	if f.TemplateID != "" && len(f.Fields) == 0 {
		errs = append(errs, config.Errorf(prefix+".fields", "REQUIRED with template_id: map each template field to a value such as \"{{text}}\""))
	}
	if f.MaxValueRunes < 1 || f.MaxValueRunes > 1000 {
		errs = append(errs, config.Errorf(prefix+".max_value_runes", "must be between 1 and 1000 (got %d)", f.MaxValueRunes))
	}
	return errs
}

var chinaTime = time.FixedZone("UTC+8", 8*3600)

// Render fills the fields for a message text sent at at.
func (f *TemplateFallback) Render(text string, at time.Time) map[string]string {
	out := make(map[string]string, len(f.Fields))
	r := strings.NewReplacer("{{text}}", text, "{{time}}", at.In(chinaTime).Format("2006-01-02 15:04"))
	for k, v := range f.Fields {
		out[k] = Truncate(r.Replace(v), f.MaxValueRunes)
	}
	return out
}

// Truncate cuts s to at most n characters, ending with … when cut.
func Truncate(s string, n int) string {
	if n <= 0 || utf8.RuneCountInString(s) <= n {
		return s
	}
	runes := []rune(s)
	return string(runes[:n-1]) + "…"
}
