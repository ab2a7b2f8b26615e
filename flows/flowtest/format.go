// Package flowtest runs conversation tests: YAML files (*_test.yaml) that
// script what a customer says and what the bot must answer, run through the
// real engine and Runner with a fake clock, fake timers and fake HTTP
// responses. `kefu flows test` and the Go test of configs/flows use it. The
// format is documented in docs/flows.md.
package flowtest

import (
	"fmt"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/kefu-gateway/kefu/flows"
)

// File is one conversation test file.
type File struct {
	Config flows.Config      `yaml:"config"`
	Vars   map[string]string `yaml:"vars"`
	Tests  []Case            `yaml:"tests"`
}

// Case is one scripted conversation.
type Case struct {
	Name    string            `yaml:"name"`
	Channel string            `yaml:"channel"`
	Buttons bool              `yaml:"buttons"`
	Contact flows.Contact     `yaml:"contact"`
	Vars    map[string]string `yaml:"vars"`
	Config  *flows.Config     `yaml:"config"`
	// Start is the fake clock's start (RFC 3339); default
	// 2024-05-01T10:00:00+08:00.
	Start string     `yaml:"start"`
	HTTP  []FakeHTTP `yaml:"http"`
	Turns []Turn     `yaml:"turns"`

	line int
}

// FakeHTTP is a canned answer for the http steps: the first entry whose
// method and URL match answers (a URL ending in * matches by prefix).
type FakeHTTP struct {
	Method string `yaml:"method"`
	URL    string `yaml:"url"`
	Status int    `yaml:"status"`
	JSON   any    `yaml:"json"`
	Body   string `yaml:"body"`
	Error  string `yaml:"error"`
}

// Turn is one input and what must follow from it. Exactly one of User,
// Event, Wait is the input; the rest are expectations, all optional.
type Turn struct {
	User   *string `yaml:"user"`
	Event  string  `yaml:"event"` // "subscribe" or "click:MENU_KEY"
	Intent string  `yaml:"intent"`
	Wait   string  `yaml:"wait"` // advance the clock; due timers fire

	Bot            *StringList       `yaml:"bot"`
	BotContains    StringList        `yaml:"bot_contains"`
	BotNotContains StringList        `yaml:"bot_not_contains"`
	Choices        *StringList       `yaml:"choices"`
	Slots          map[string]string `yaml:"slots"`
	Tags           StringList        `yaml:"tags"`
	NoTags         StringList        `yaml:"no_tags"`
	Contact        map[string]string `yaml:"contact"`
	Actions        []ActionExpect    `yaml:"actions"`
	NoActions      StringList        `yaml:"no_actions"`
	Handled        *bool             `yaml:"handled"`
	Flow           *string           `yaml:"flow"`
	Followups      *int              `yaml:"followups"`

	line int
}

// StringList accepts one string or a list of strings.
type StringList []string

// UnmarshalYAML implements yaml.Unmarshaler.
func (l *StringList) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*l = StringList{n.Value}
		return nil
	}
	var s []string
	if err := n.Decode(&s); err != nil {
		return err
	}
	*l = s
	return nil
}

// ActionExpect is an expected action: its kind, and fields that must match
// (compared as text; delay as a duration).
type ActionExpect struct {
	Kind   string
	Fields map[string]string
}

// UnmarshalYAML accepts "handoff" or {handoff: {queue: after_sales}}.
func (a *ActionExpect) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		a.Kind = n.Value
		return nil
	}
	var m map[string]map[string]string
	if err := n.Decode(&m); err != nil || len(m) != 1 {
		return fmt.Errorf("line %d: an action is a kind, or {kind: {field: value}}", n.Line)
	}
	for k, v := range m {
		a.Kind, a.Fields = k, v
	}
	return nil
}

func (c Case) start() (time.Time, error) {
	if c.Start == "" {
		return time.Date(2024, 5, 1, 10, 0, 0, 0, time.FixedZone("CST", 8*3600)), nil
	}
	return time.Parse(time.RFC3339, c.Start)
}
