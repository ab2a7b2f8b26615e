package handoff_test

import (
	"strings"
	"testing"

	"github.com/kefu-gateway/kefu/adapters"
	"github.com/kefu-gateway/kefu/adapters/message"
	"github.com/kefu-gateway/kefu/handoff"
)

// With csat.flow, /end hands the customer back to the bot into the team's
// own survey flow instead of the built-in 1–5 question; the customer's
// answer goes to that flow.
func TestEndStartsTheSurveyFlow(t *testing.T) {
	e := setup(t, options{handoff: twoAgents + "csat: { enabled: true, flow: survey }\n"})
	e.agent("alice-wx", "/online")
	e.askHuman("u1")
	e.waitFor(e.shop, "u1", "客服Alice为您服务")
	e.agent("alice-wx", "/end")
	e.waitFor(e.shop, "u1", "本次人工服务已结束")
	e.waitFor(e.shop, "u1", "请为刚才的人工服务打分（1-5）")
	e.customer("u1", "4")
	e.waitFor(e.shop, "u1", "感谢您的评价：4 分")
	if n := countWith(e.shop, "u1", "回复 1-5 的数字"); n != 0 {
		t.Errorf("the built-in rating question was asked too (%d)", n)
	}
	sent := sentTo(e.shop, "u1")
	var order []string
	for _, m := range sent {
		for _, s := range []string{"本次人工服务已结束", "请为刚才的人工服务打分"} {
			if strings.Contains(m.Text, s) {
				order = append(order, s)
			}
		}
	}
	if strings.Join(order, "|") != "本次人工服务已结束|请为刚才的人工服务打分" {
		t.Errorf("order %q, want the farewell before the survey", order)
	}
}

// With too little room left in the customer's window for the farewell and
// the survey's question, /end says goodbye and starts no survey.
func TestNoSurveyWhereItWouldNotGetThrough(t *testing.T) {
	e := setup(t, options{handoff: twoAgents + "csat: { enabled: true, flow: survey }\n"})
	e.agent("alice-wx", "/online")
	e.askHuman("u1")
	e.waitFor(e.shop, "u1", "客服Alice为您服务")
	e.shop.SetWindow(func(message.Party) adapters.Window { return adapters.Window{Open: true, Remaining: 1} })
	e.agent("alice-wx", "/end")
	e.waitFor(e.shop, "u1", "本次人工服务已结束")
	e.settle()
	if n := countWith(e.shop, "u1", "请为刚才的人工服务打分"); n != 0 {
		t.Fatalf("the survey started with one message left in the window (%d)", n)
	}
}

// A csat.flow naming no loaded flow fails at start, with the key.
func TestUnknownSurveyFlowFailsAtStart(t *testing.T) {
	e := setup(t, options{})
	cfg := handoff.Defaults()
	cfg.CSAT.Flow = "no_such_survey"
	_, err := handoff.New(cfg, handoff.Deps{Redis: e.db.Client, Keys: e.keys, Router: e.r, Adapters: e.set, Tasks: e.tasks,
		Flows: e.r, FlowExists: func(id string) bool { return id == "survey" }})
	if err == nil || !strings.Contains(err.Error(), `csat.flow: no flow has the id "no_such_survey"`) {
		t.Fatalf("err = %v", err)
	}
}
