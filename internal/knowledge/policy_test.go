package knowledge

import (
	"context"
	"strings"
	"testing"

	"github.com/kefu-gateway/kefu/adapters/message"
)

func testFAQs() []*FAQ {
	return []*FAQ{
		{ID: "invoice", Question: "怎么开发票？", Similar: []string{"能开发票吗"}, Answer: "在订单里申请开票。"},
		{ID: "invoice-vat", Question: "能开增值税专用发票吗？", Similar: []string{"可以开专票吗"}, Answer: "可以开专票。"},
		{ID: "refund", Question: "退款多久到账？", Similar: []string{"钱什么时候退回来"}, Answer: "1–5个工作日。"},
		{ID: "return", Question: "如何申请退货？", Similar: []string{"怎么退货"}, Answer: "7天无理由退货。"},
	}
}

func hit(f *FAQ, s float64) Hit { return Hit{FAQ: f, Score: s, Lexical: s} }

func TestDecide(t *testing.T) {
	fs := testFAQs()
	pol, err := NewPolicy(PolicyConfig{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		hits    []Hit
		outcome Outcome
		choices []string // faq ids offered
	}{
		{"confident", []Hit{hit(fs[0], 0.9), hit(fs[1], 0.3)}, OutcomeAnswer, nil},
		{"close call", []Hit{hit(fs[0], 0.6), hit(fs[1], 0.58), hit(fs[2], 0.1)}, OutcomeClarify, []string{"invoice", "invoice-vat"}},
		{"three close", []Hit{hit(fs[0], 0.6), hit(fs[1], 0.58), hit(fs[2], 0.55), hit(fs[3], 0.5)}, OutcomeClarify, []string{"invoice", "invoice-vat", "refund"}},
		{"likely but unsure", []Hit{hit(fs[2], 0.3)}, OutcomeClarify, []string{"refund"}},
		{"low", []Hit{hit(fs[2], 0.1)}, OutcomeUnknown, nil},
		{"nothing", nil, OutcomeUnknown, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := pol.Decide("q", tt.hits)
			if d.Outcome != tt.outcome {
				t.Fatalf("outcome %s, want %s", d.Outcome, tt.outcome)
			}
			switch d.Outcome {
			case OutcomeAnswer:
				if d.Text != tt.hits[0].FAQ.Answer || d.FAQ != tt.hits[0].FAQ {
					t.Errorf("answer %q, want the FAQ's answer verbatim", d.Text)
				}
			case OutcomeClarify:
				if strings.Join(d.Pending.FAQIDs, ",") != strings.Join(tt.choices, ",") {
					t.Errorf("offered %v, want %v", d.Pending.FAQIDs, tt.choices)
				}
				if len(d.Choices) != len(tt.choices)+1 || d.Choices[len(d.Choices)-1].Title != DefaultNoneText {
					t.Errorf("choices %v lack the trailing none-of-these", d.Choices)
				}
				if d.Choices[0] != (message.Choice{Title: tt.hits[0].FAQ.Question, Payload: "kb:" + tt.hits[0].FAQ.ID}) {
					t.Errorf("first choice %+v", d.Choices[0])
				}
				if len(tt.choices) == 1 && !strings.Contains(d.Text, tt.hits[0].FAQ.Question) {
					t.Errorf("single-choice confirmation %q does not name the question", d.Text)
				}
			case OutcomeUnknown:
				if d.Text != DefaultUnknownText {
					t.Errorf("unknown text %q", d.Text)
				}
			}
		})
	}
}

func TestPolicyValidate(t *testing.T) {
	bad := []PolicyConfig{
		{AnswerThreshold: 1.5},
		{AnswerThreshold: 0.3, ClarifyThreshold: 0.5},
		{MaxChoices: 12},
		{ConfirmText: "没有占位符"},
	}
	for _, c := range bad {
		if _, err := NewPolicy(c); err == nil {
			t.Errorf("NewPolicy(%+v) accepted an invalid config", c)
		}
	}
}

func TestResolve(t *testing.T) {
	svc, err := NewFromBase(NewBase(testFAQs(), nil), Config{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	two := &Pending{Query: "发票", FAQIDs: []string{"invoice", "invoice-vat"}}
	one := &Pending{Query: "钱", FAQIDs: []string{"refund"}}
	tests := []struct {
		name     string
		pending  *Pending
		reply    string
		ok       bool
		want     string // answered faq id
		declined bool
	}{
		{"number", two, "2", true, "invoice-vat", false},
		{"full width number", two, "１", true, "invoice", false},
		{"chinese ordinal", two, "第二个", true, "invoice-vat", false},
		{"payload", two, "kb:invoice", true, "invoice", false},
		{"payload not offered", two, "kb:refund", false, "", false},
		{"title", two, "能开增值税专用发票吗", true, "invoice-vat", false},
		{"matching words", two, "专票", true, "invoice-vat", false},
		{"none by number", two, "3", true, "", true},
		{"none by text", two, "都不是", true, "", true},
		{"none payload", two, "kb:none", true, "", true},
		{"yes to confirmation", one, "是的", true, "refund", false},
		{"out of range", two, "7", false, "", false},
		{"new question", two, "怎么退货", false, "", false},
		{"new question sharing words", &Pending{FAQIDs: []string{"refund", "invoice"}}, "退货怎么申请", false, "", false},
		{"no pending", nil, "1", false, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, ok := svc.Resolve(context.Background(), tt.pending, tt.reply)
			if ok != tt.ok {
				t.Fatalf("ok = %v, want %v (decision %+v)", ok, tt.ok, d)
			}
			if !ok {
				return
			}
			if tt.declined {
				if !d.Declined || d.Outcome != OutcomeUnknown {
					t.Fatalf("got %+v, want declined", d)
				}
				return
			}
			if d.Outcome != OutcomeAnswer || d.FAQ.ID != tt.want || d.Text != d.FAQ.Answer {
				t.Fatalf("got %+v, want answer %s", d, tt.want)
			}
		})
	}
}

func TestClarifyRoundTrip(t *testing.T) {
	svc, err := NewFromBase(NewBase(testFAQs(), nil), Config{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	d := svc.Ask(ctx, "退款退货")
	if d.Outcome != OutcomeClarify {
		t.Fatalf("退款退货 should be a close call between refund and return, got %s %v", d.Outcome, d.Hits)
	}
	rendered := message.RenderChoices(d.Text, d.Choices)
	if !strings.Contains(rendered, "1. ") || !strings.Contains(rendered, DefaultNoneText) {
		t.Errorf("rendered menu %q", rendered)
	}
	got, ok := svc.Resolve(ctx, d.Pending, "1")
	if !ok || got.FAQ.ID != d.Pending.FAQIDs[0] {
		t.Fatalf("resolving 1: %+v %v", got, ok)
	}
}

func TestMissPolicy(t *testing.T) {
	def, _ := NewMissPolicy(MissConfig{})
	if a := def.Next(1); a.Text != "" || a.StartHandoff || len(a.Choices) != 1 {
		t.Errorf("first miss: %+v, want the unknown text plus a human choice", a)
	}
	if a := def.Next(2); a.Text != DefaultEscalateText || a.StartHandoff {
		t.Errorf("second miss: %+v, want escalation", a)
	}
	if a := def.Next(9); a.StartHandoff {
		t.Errorf("default policy started a handoff by itself")
	}
	auto, _ := NewMissPolicy(MissConfig{HandoffAfter: 3})
	if a := auto.Next(3); !a.StartHandoff || a.Text != DefaultHandoffText {
		t.Errorf("third miss with handoff_after 3: %+v", a)
	}
	if _, err := NewMissPolicy(MissConfig{HandoffAfter: -1}); err == nil {
		t.Error("negative handoff_after accepted")
	}
}
