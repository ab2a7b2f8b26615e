package app_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/kefu-gateway/kefu/internal/llm"
	"github.com/kefu-gateway/kefu/internal/testutil/apptest"
	"github.com/kefu-gateway/kefu/internal/testutil/fakellm"
)

func demoWith(t *testing.T, extra string) string {
	return apptest.DemoConfig(t) + "\n" + extra
}

// With no LLM, the knowledge base answers confident questions verbatim,
// asks when unsure (a numbered answer resolves it), and otherwise says it
// did not understand and offers a human — never a guessed answer.
func TestKnowledgeBaseWithoutLLM(t *testing.T) {
	srv := apptest.Start(t, apptest.DemoConfig(t), apptest.Options{})
	v := newVisitor(t, srv.URL, "demo")
	if r := joined(v.say("退款多久能到账啊")); !strings.Contains(r, "1个工作日内退款") {
		t.Fatalf("confident FAQ → %q", r)
	}
	r := v.say("快递")
	if len(r) != 1 || !strings.Contains(r[0].Text, "哪个问题") {
		t.Fatalf("ambiguous question → %+v, want a clarifying question", r)
	}
	if a := joined(v.say("2")); !strings.Contains(a, "物流") {
		t.Fatalf("choosing 2 → %q, want the track-order answer", a)
	}
	first := joined(v.say("你们的包装环保吗"))
	if !strings.Contains(first, "人工") {
		t.Fatalf("unknown question → %q, want an offer of a human", first)
	}
	if second := joined(v.say("给我讲个笑话吧")); !strings.Contains(second, "人工") {
		t.Fatalf("second miss → %q", second)
	}
	// Gaps are recorded after the reply went out.
	deadline := time.Now().Add(5 * time.Second)
	for {
		gaps, err := srv.App.Gaps.Top(t.Context(), 10)
		if err == nil && len(gaps) >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("unanswered questions not recorded: %+v %v", gaps, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// An out-of-scope question goes to the LLM grounded in the knowledge base
// and the recent turns; the web widget sees it stream, then the final reply.
func TestLLMAnswerIsGroundedAndStreamed(t *testing.T) {
	fake := fakellm.New(t, func(r fakellm.Request) string { return "我们使用可回收的纸箱包装，**环保**又结实。" })
	srv := apptest.Start(t, demoWith(t, ""), apptest.Options{Env: map[string]string{"KEFU_LLM_BASE_URL": fake.BaseURL()}})
	v := newVisitor(t, srv.URL, "demo")
	v.say("你好")
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http")+"/ws/web/demo?token="+v.token, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	if err := ws.WriteJSON(map[string]string{"type": "text", "text": "你们的包装环保吗"}); err != nil {
		t.Fatal(err)
	}
	var streamed strings.Builder
	var final struct{ Text, StreamID string }
	deadline := time.Now().Add(10 * time.Second)
	for final.Text == "" {
		_ = ws.SetReadDeadline(deadline)
		var f struct {
			Type    string
			Data    struct{ StreamID, Delta string } `json:"data"`
			Message struct {
				From, Text string
				StreamID   string `json:"stream_id"`
			}
		}
		if err := ws.ReadJSON(&f); err != nil {
			t.Fatalf("reading websocket: %v (streamed so far %q)", err, streamed.String())
		}
		switch {
		case f.Type == "stream":
			streamed.WriteString(f.Data.Delta)
		case f.Type == "message" && f.Message.From == "bot":
			final.Text, final.StreamID = f.Message.Text, f.Message.StreamID
		}
	}
	if final.Text != "我们使用可回收的纸箱包装，环保又结实。" {
		t.Errorf("final reply %q (markdown must be stripped for the widget)", final.Text)
	}
	if final.StreamID == "" || !strings.Contains(streamed.String(), "可回收") {
		t.Errorf("no stream before the final reply: streamed %q, stream id %q", streamed.String(), final.StreamID)
	}
	// The demo flows declare intents, so one request classifies the
	// question and one answers it; neither puts customer text in the
	// system role.
	var system, user strings.Builder
	for _, req := range fake.Requests() {
		for _, m := range req.Messages {
			if m.Role == "system" {
				system.WriteString(m.Content)
			} else {
				user.WriteString(m.Content)
			}
		}
	}
	if strings.Contains(system.String(), "包装环保") {
		t.Error("customer text went into the system role")
	}
	if !strings.Contains(user.String(), "包装环保") || !strings.Contains(user.String()+system.String(), "你好") {
		t.Errorf("the prompt lacks the question or the recent turns:\nsystem: %s\nuser: %s", system.String(), user.String())
	}
}

// When the LLM is down the customer still gets an answer at once (an offer
// of a human), and the circuit breaker stops calling the broken server.
func TestLLMDownGivesGracefulAnswer(t *testing.T) {
	fake := fakellm.New(t, func(fakellm.Request) string { return "unused" })
	fake.Fail(500)
	root := apptest.RepoRoot()
	srv := apptest.Start(t, `
flows: { dir: `+root+`/configs/flows }
knowledge: { dir: `+root+`/configs/knowledge }
channels: { web: [ { id: demo } ] }
llm:
  base_url: ${KEFU_LLM_BASE_URL}
  retries: -1
  breaker_failures: 2
  breaker_cooldown: 1m
`, apptest.Options{Env: map[string]string{"KEFU_LLM_BASE_URL": fake.BaseURL()}})
	v := newVisitor(t, srv.URL, "demo")
	for i := 0; i < 4; i++ {
		start := time.Now()
		r := joined(v.say("你们的包装环保吗"))
		if !strings.Contains(r, "人工") {
			t.Fatalf("attempt %d with the LLM down → %q, want an offer of a human", i, r)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Fatalf("attempt %d took %s", i, d)
		}
	}
	if n := len(fake.Requests()); n != 2 {
		t.Errorf("%d requests reached the broken LLM, want 2 before the breaker opened (intent classification and answers share it)", n)
	}
	if srv.App.LLM.Breaker().State() != llm.BreakerOpen {
		t.Errorf("breaker state %s", srv.App.LLM.Breaker().State())
	}
}

// A question no keyword matches is classified against the flows' intent
// triggers; a confident match starts the flow (here the demo order look-up).
func TestIntentStartsAFlow(t *testing.T) {
	fake := fakellm.New(t, func(r fakellm.Request) string {
		if strings.Contains(r.Messages[0].Content, "id: order_status") {
			return `{"intent": "order_status", "confidence": 0.92}`
		}
		return "不该用到的回答"
	})
	srv := apptest.Start(t, demoWith(t, ""), apptest.Options{Env: map[string]string{"KEFU_LLM_BASE_URL": fake.BaseURL()}})
	v := newVisitor(t, srv.URL, "demo")
	if r := joined(v.say("我买的那个东西现在走到哪里了")); !strings.Contains(r, "订单号") {
		t.Fatalf("an order question without keywords → %q, want the order flow asking for the number", r)
	}
	if r := joined(v.say("100001")); !strings.Contains(r, "已发货") {
		t.Fatalf("the intent-started flow did not continue: %q", r)
	}
}

func TestGapsInTheOperatorAPI(t *testing.T) {
	srv := apptest.Start(t, apptest.DemoConfig(t), apptest.Options{Env: map[string]string{"KEFU_ADMIN_TOKEN": "0123456789abcdef-admin"}})
	v := newVisitor(t, srv.URL, "demo")
	v.say("给我讲个笑话吧")
	v.say("给我讲个笑话吧！")
	var out struct {
		Gaps []struct {
			Count int `json:"count"`
		} `json:"gaps"`
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		req, _ := http.NewRequest("GET", srv.URL+"/admin/api/knowledge/gaps?n=5", nil)
		req.Header.Set("Authorization", "Bearer 0123456789abcdef-admin")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		err = json.NewDecoder(res.Body).Decode(&out)
		res.Body.Close()
		if err != nil || res.StatusCode != 200 {
			t.Fatalf("status %d, %v", res.StatusCode, err)
		}
		if len(out.Gaps) == 1 && out.Gaps[0].Count == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("gaps = %+v, want one question asked twice", out.Gaps)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
