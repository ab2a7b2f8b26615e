package contacts

import (
	"fmt"
	"time"
	_ "time/tzdata" // contacts' time zones must resolve on hosts without zoneinfo

	"github.com/kefu-gateway/kefu/internal/config"
	"gopkg.in/yaml.v3"
)

// Config is the `contacts:` block: profiles, consent and quiet hours.
type Config struct {
	// Timezone is the IANA time zone of contacts that have none of their
	// own; quiet hours are read in the contact's zone.
	Timezone string `yaml:"timezone"`
	// QuietHours is when no follow-up or campaign message may reach a
	// contact (local time); one due then waits for the end. Both empty =
	// no quiet hours.
	QuietHours QuietHours `yaml:"quiet_hours"`
	// OptOut is how customers stop (and restart) the messages kefu starts.
	OptOut OptOutConfig `yaml:"opt_out"`
	// MaxTags, MaxAttributes and MaxNotes bound one contact (notes beyond
	// MaxNotes drop the oldest).
	MaxTags       int `yaml:"max_tags"`
	MaxAttributes int `yaml:"max_attributes"`
	MaxNotes      int `yaml:"max_notes"`

	location *time.Location
}

// OptOutConfig is contacts.opt_out.
type OptOutConfig struct {
	// Keywords opt the customer out when a message is exactly one of them
	// (case, width, spaces and punctuation ignored).
	Keywords []string `yaml:"keywords"`
	// OptInKeywords opt an opted-out customer back in.
	OptInKeywords []string `yaml:"opt_in_keywords"`
	// ConfirmText answers an opt-out, once; OptInText answers an opt-in.
	ConfirmText string `yaml:"confirm_text"`
	OptInText   string `yaml:"opt_in_text"`
	// normalized maps each normalized keyword to its action (see prepared).
	normalized map[string]OptAction
}

// Defaults returns the contacts defaults.
func Defaults() Config {
	return Config{
		Timezone:   "Asia/Shanghai",
		QuietHours: QuietHours{Start: "22:00", End: "08:00"},
		OptOut: OptOutConfig{
			Keywords:      []string{"退订", "TD", "STOP", "UNSUBSCRIBE"},
			OptInKeywords: []string{"订阅", "START"},
			ConfirmText:   "您已退订，我们不会再主动给您发送消息。如需恢复，请回复“订阅”。",
			OptInText:     "已为您恢复消息通知。回复“退订”可随时取消。",
		},
		MaxTags:       100,
		MaxAttributes: 200,
		MaxNotes:      100,
	}
}

// Validate checks the block.
func (c *Config) Validate() error {
	var errs []error
	loc, err := time.LoadLocation(c.Timezone)
	if err != nil || c.Timezone == "" {
		errs = append(errs, config.Errorf("timezone", "unknown time zone %q (use an IANA name such as Asia/Shanghai)", c.Timezone))
	} else {
		c.location = loc
	}
	if err := c.QuietHours.validate(); err != nil {
		errs = append(errs, config.Errorf("quiet_hours", "%v", err))
	}
	if len(c.OptOut.Keywords) == 0 {
		errs = append(errs, config.Errorf("opt_out.keywords", "must list at least one keyword: customers must be able to opt out"))
	}
	seen := map[string]string{}
	for i, k := range c.OptOut.Keywords {
		if normalizeKeyword(k) == "" {
			errs = append(errs, config.Errorf(fmt.Sprintf("opt_out.keywords[%d]", i), "is empty after removing spaces and punctuation"))
		}
		seen[normalizeKeyword(k)] = "keywords"
	}
	for i, k := range c.OptOut.OptInKeywords {
		n := normalizeKeyword(k)
		if n == "" {
			errs = append(errs, config.Errorf(fmt.Sprintf("opt_out.opt_in_keywords[%d]", i), "is empty after removing spaces and punctuation"))
		} else if seen[n] != "" {
			errs = append(errs, config.Errorf(fmt.Sprintf("opt_out.opt_in_keywords[%d]", i), "%q is also an opt-out keyword", k))
		}
	}
	if c.OptOut.ConfirmText == "" {
		errs = append(errs, config.Errorf("opt_out.confirm_text", "must not be empty: an opt-out is confirmed"))
	}
	if c.OptOut.OptInText == "" {
		errs = append(errs, config.Errorf("opt_out.opt_in_text", "must not be empty"))
	}
	if c.MaxTags < 1 || c.MaxTags > 10000 {
		errs = append(errs, config.Errorf("max_tags", "must be between 1 and 10000"))
	}
	if c.MaxAttributes < 1 || c.MaxAttributes > 10000 {
		errs = append(errs, config.Errorf("max_attributes", "must be between 1 and 10000"))
	}
	if c.MaxNotes < 1 || c.MaxNotes > 10000 {
		errs = append(errs, config.Errorf("max_notes", "must be between 1 and 10000"))
	}
	return config.Join(errs...)
}

// Location is the default time zone (valid after Validate).
func (c *Config) Location() *time.Location {
	if c.location == nil {
		if loc, err := time.LoadLocation(c.Timezone); err == nil {
			c.location = loc
		} else {
			c.location = time.UTC
		}
	}
	return c.location
}

// DecodeConfig decodes the `contacts:` node (nil = defaults).
func DecodeConfig(node *yaml.Node, file string) (Config, error) {
	cfg := Defaults()
	err := config.Decode(node, &cfg, file, "contacts")
	return cfg, err
}
