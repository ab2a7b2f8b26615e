package knowledge

import (
	"fmt"

	"github.com/kefu-gateway/kefu/adapters/message"
)

// MissConfig says what happens when kefu repeatedly fails to answer in one
// conversation. The router keeps the count of consecutive misses in the
// conversation state (reset it after any answer) and asks MissPolicy.Next.
type MissConfig struct {
	// EscalateAfter is the number of consecutive misses after which the
	// reply stops suggesting a rephrase and plainly offers a human
	// (default 2).
	EscalateAfter int `yaml:"escalate_after" json:"escalate_after"`
	// HandoffAfter starts a handoff by itself after this many consecutive
	// misses; 0 (the default) never does, the customer decides.
	HandoffAfter int `yaml:"handoff_after" json:"handoff_after"`
	// EscalateText and HandoffText are the replies for those two cases.
	EscalateText string `yaml:"escalate_text" json:"escalate_text"`
	HandoffText  string `yaml:"handoff_text" json:"handoff_text"`
	// HumanChoice is the quick reply offering a human. Its payload is the
	// text a customer would type for a human (the flows' global command), so
	// a button press and a typed reply do the same thing.
	HumanChoice message.Choice `yaml:"human_choice" json:"human_choice"`
}

// Defaults of MissConfig.
const (
	DefaultEscalateAfter = 2
	DefaultEscalateText  = "抱歉，这个问题我暂时回答不了。需要为您转接人工客服吗？回复“人工”即可。"
	DefaultHandoffText   = "抱歉一直没能帮到您，正在为您转接人工客服，请稍候。"
	DefaultHumanCommand  = "人工"
)

func (c MissConfig) withDefaults() MissConfig {
	if c.EscalateAfter == 0 {
		c.EscalateAfter = DefaultEscalateAfter
	}
	if c.EscalateText == "" {
		c.EscalateText = DefaultEscalateText
	}
	if c.HandoffText == "" {
		c.HandoffText = DefaultHandoffText
	}
	if c.HumanChoice.Title == "" {
		c.HumanChoice = message.Choice{Title: "转人工客服", Payload: DefaultHumanCommand}
	}
	return c
}

// Validate reports impossible settings.
func (c MissConfig) Validate() error {
	if c.EscalateAfter < 0 || c.HandoffAfter < 0 {
		return fmt.Errorf("knowledge misses: escalate_after and handoff_after must not be negative")
	}
	return nil
}

// MissAction is what to do after a miss.
type MissAction struct {
	// Text replaces the unknown reply when set (escalation or handoff).
	Text string `json:"text,omitempty"`
	// Choices offer a human (every miss offers one: kefu never traps a
	// customer with a bot that cannot help).
	Choices []message.Choice `json:"choices,omitempty"`
	// StartHandoff asks the router to hand the conversation to a human now.
	StartHandoff bool `json:"start_handoff,omitempty"`
}

// MissPolicy decides escalation from the count of consecutive misses.
type MissPolicy struct{ cfg MissConfig }

// NewMissPolicy returns the policy for cfg with defaults filled in.
func NewMissPolicy(cfg MissConfig) (*MissPolicy, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &MissPolicy{cfg: cfg.withDefaults()}, nil
}

// Next returns the action after the misses-th consecutive miss (counting
// the current one, so the first miss is 1).
func (p *MissPolicy) Next(misses int) MissAction {
	c := p.cfg
	a := MissAction{Choices: []message.Choice{c.HumanChoice}}
	switch {
	case c.HandoffAfter > 0 && misses >= c.HandoffAfter:
		a.Text, a.StartHandoff, a.Choices = c.HandoffText, true, nil
	case misses >= c.EscalateAfter:
		a.Text = c.EscalateText
	}
	return a
}
