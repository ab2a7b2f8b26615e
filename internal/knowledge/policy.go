package knowledge

import (
	"fmt"
	"strings"

	"github.com/kefu-gateway/kefu/adapters/message"
)

// Outcome is what the answer policy decided for one customer text.
type Outcome string

// Outcomes of the answer policy.
const (
	// OutcomeAnswer: one FAQ matches confidently; send Decision.Answer verbatim.
	OutcomeAnswer Outcome = "answer"
	// OutcomeClarify: two or three FAQs are close (or one is likely but not
	// certain); ask Decision.Question offering Decision.Choices and keep
	// Decision.Pending in the conversation state.
	OutcomeClarify Outcome = "clarify"
	// OutcomeUnknown: nothing matches well enough to answer or to ask. The
	// router tries the LLM when one is configured, else sends
	// Decision.Text (a "didn't catch that") and applies the MissPolicy.
	OutcomeUnknown Outcome = "unknown"
)

// PolicyConfig holds the answer policy's thresholds and texts. The zero value
// of every field means its default.
type PolicyConfig struct {
	// AnswerThreshold is the confidence at or above which the best FAQ is
	// answered, provided it leads the runner-up by Margin.
	AnswerThreshold float64 `yaml:"answer_threshold" json:"answer_threshold"`
	// Margin is the lead the best FAQ needs over the second to be answered
	// without asking.
	Margin float64 `yaml:"margin" json:"margin"`
	// ClarifyThreshold is the lowest confidence at which an FAQ is offered as
	// a choice in a clarifying question.
	ClarifyThreshold float64 `yaml:"clarify_threshold" json:"clarify_threshold"`
	// ClarifySpread: only FAQs within this distance of the best one are
	// offered alongside it.
	ClarifySpread float64 `yaml:"clarify_spread" json:"clarify_spread"`
	// MaxChoices caps the choices of a clarifying question (default 3).
	MaxChoices int `yaml:"max_choices" json:"max_choices"`

	// ClarifyText introduces the choices; ConfirmText (with one %s for the
	// FAQ's question) asks about a single likely FAQ; UnknownText is the
	// "didn't catch that" reply; NoneText is the extra choice declining all.
	ClarifyText string `yaml:"clarify_text" json:"clarify_text"`
	ConfirmText string `yaml:"confirm_text" json:"confirm_text"`
	UnknownText string `yaml:"unknown_text" json:"unknown_text"`
	NoneText    string `yaml:"none_text" json:"none_text"`
}

// Default policy values, calibrated with `kefu kb eval` on the tuning half of
// the demo eval set (internal/knowledge/testdata/eval.yaml).
const (
	DefaultAnswerThreshold  = 0.4
	DefaultMargin           = 0.05
	DefaultClarifyThreshold = 0.15
	DefaultClarifySpread    = 0.15
	DefaultMaxChoices       = 3

	DefaultClarifyText = "您想咨询的是下面哪个问题？请回复序号："
	DefaultConfirmText = "您是想问“%s”吗？"
	DefaultUnknownText = "抱歉，我没太明白您的意思。您可以换个说法再问一次，或回复“人工”联系人工客服。"
	DefaultNoneText    = "都不是"
)

// withDefaults returns c with every zero field set to its default.
func (c PolicyConfig) withDefaults() PolicyConfig {
	if c.AnswerThreshold == 0 {
		c.AnswerThreshold = DefaultAnswerThreshold
	}
	if c.Margin == 0 {
		c.Margin = DefaultMargin
	}
	if c.ClarifyThreshold == 0 {
		c.ClarifyThreshold = DefaultClarifyThreshold
	}
	if c.ClarifySpread == 0 {
		c.ClarifySpread = DefaultClarifySpread
	}
	if c.MaxChoices == 0 {
		c.MaxChoices = DefaultMaxChoices
	}
	if c.ClarifyText == "" {
		c.ClarifyText = DefaultClarifyText
	}
	if c.ConfirmText == "" {
		c.ConfirmText = DefaultConfirmText
	}
	if c.UnknownText == "" {
		c.UnknownText = DefaultUnknownText
	}
	if c.NoneText == "" {
		c.NoneText = DefaultNoneText
	}
	return c
}

// Validate reports a configuration that cannot work.
func (c PolicyConfig) Validate() error {
	d := c.withDefaults()
	for _, v := range []struct {
		name string
		val  float64
	}{{"answer_threshold", d.AnswerThreshold}, {"clarify_threshold", d.ClarifyThreshold}, {"margin", d.Margin}, {"clarify_spread", d.ClarifySpread}} {
		if v.val < 0 || v.val > 1 {
			return fmt.Errorf("knowledge policy: %s must be between 0 and 1, got %v", v.name, v.val)
		}
	}
	if d.ClarifyThreshold > d.AnswerThreshold {
		return fmt.Errorf("knowledge policy: clarify_threshold (%v) must not exceed answer_threshold (%v)", d.ClarifyThreshold, d.AnswerThreshold)
	}
	if d.MaxChoices < 1 || d.MaxChoices > 9 {
		return fmt.Errorf("knowledge policy: max_choices must be between 1 and 9, got %d", d.MaxChoices)
	}
	if strings.Count(d.ConfirmText, "%s") != 1 {
		return fmt.Errorf("knowledge policy: confirm_text must contain exactly one %%s")
	}
	return nil
}

// Pending is the open clarifying question the router keeps in the
// conversation state until the customer's next text. It is small and
// JSON-serializable.
type Pending struct {
	// Query is the customer text that led to the question (for gap records).
	Query string `json:"query"`
	// FAQIDs are the offered FAQs in the order of their choice numbers.
	FAQIDs []string `json:"faq_ids"`
}

// Decision is the answer policy's verdict on one customer text.
type Decision struct {
	Outcome Outcome `json:"outcome"`
	// Text is what to send: the FAQ's answer, the clarifying question (the
	// choices are separate, see message.RenderChoices), or the unknown text.
	Text string `json:"text"`
	// FAQ is the answered FAQ (OutcomeAnswer only).
	FAQ *FAQ `json:"faq,omitempty"`
	// Choices are the clarifying question's options (OutcomeClarify only);
	// each Payload is ChoicePayload(faq id), the last one declines all.
	Choices []message.Choice `json:"choices,omitempty"`
	// Pending must be stored in the conversation state (OutcomeClarify only)
	// and passed to Resolve with the customer's next text.
	Pending *Pending `json:"pending,omitempty"`
	// Declined is set when the customer answered a clarifying question with
	// "none of these" (OutcomeUnknown): count a miss, offer a human.
	Declined bool `json:"declined,omitempty"`
	// Hits are the retrieval results the decision was made on, best first.
	Hits []Hit `json:"hits,omitempty"`
}

// Confidence is the best hit's score, 0 without hits.
func (d Decision) Confidence() float64 {
	if len(d.Hits) == 0 {
		return 0
	}
	return d.Hits[0].Score
}

// choicePayloadPrefix marks a choice payload as a knowledge-base FAQ id.
const choicePayloadPrefix = "kb:"

// noneChoicePayload is the payload of the "none of these" choice.
const noneChoicePayload = "kb:none"

// ChoicePayload is the payload of the choice offering FAQ id; channels with
// buttons send it back and Resolve accepts it.
func ChoicePayload(id string) string { return choicePayloadPrefix + id }

// Policy turns retrieval hits into a Decision.
type Policy struct {
	cfg PolicyConfig
}

// NewPolicy returns a policy with cfg's defaults filled in. It returns an
// error when cfg is invalid.
func NewPolicy(cfg PolicyConfig) (*Policy, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Policy{cfg: cfg.withDefaults()}, nil
}

// Config returns the policy's configuration with defaults filled in.
func (p *Policy) Config() PolicyConfig { return p.cfg }

// Decide applies the policy to hits (best first) for the customer text query.
func (p *Policy) Decide(query string, hits []Hit) Decision {
	c := p.cfg
	d := Decision{Hits: hits}
	if len(hits) == 0 || hits[0].Score < c.ClarifyThreshold {
		return p.unknown(d)
	}
	top := hits[0]
	runnerUp := 0.0
	if len(hits) > 1 {
		runnerUp = hits[1].Score
	}
	if top.Score >= c.AnswerThreshold && top.Score-runnerUp >= c.Margin {
		d.Outcome = OutcomeAnswer
		d.FAQ = top.FAQ
		d.Text = top.FAQ.Answer
		return d
	}
	floor := top.Score - c.ClarifySpread
	if floor < c.ClarifyThreshold {
		floor = c.ClarifyThreshold
	}
	pending := &Pending{Query: query}
	for _, h := range hits {
		if h.Score < floor || len(pending.FAQIDs) == c.MaxChoices {
			break
		}
		pending.FAQIDs = append(pending.FAQIDs, h.FAQ.ID)
		d.Choices = append(d.Choices, message.Choice{Title: h.FAQ.Question, Payload: ChoicePayload(h.FAQ.ID)})
	}
	d.Choices = append(d.Choices, message.Choice{Title: c.NoneText, Payload: noneChoicePayload})
	d.Outcome = OutcomeClarify
	d.Pending = pending
	if len(pending.FAQIDs) == 1 {
		d.Text = fmt.Sprintf(c.ConfirmText, hits[0].FAQ.Question)
	} else {
		d.Text = c.ClarifyText
	}
	return d
}

func (p *Policy) unknown(d Decision) Decision {
	d.Outcome = OutcomeUnknown
	d.Text = p.cfg.UnknownText
	return d
}
