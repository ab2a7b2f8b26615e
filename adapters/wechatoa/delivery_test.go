package wechatoa_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kefu-gateway/kefu/adapters"
	"github.com/kefu-gateway/kefu/adapters/internal/conformance"
	"github.com/kefu-gateway/kefu/adapters/internal/fakeplatform"
	"github.com/kefu-gateway/kefu/adapters/message"
	"github.com/kefu-gateway/kefu/adapters/wechatoa"
	"github.com/kefu-gateway/kefu/internal/testutil/apptest"
	"github.com/kefu-gateway/kefu/internal/testutil/fakellm"
	"github.com/kefu-gateway/kefu/router"
	dto "github.com/prometheus/client_model/go"
)

// slowServer answers {"status":"已发货"} after delay, counting requests.
func slowServer(t testing.TB, delay time.Duration) (string, *atomic.Int64) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"已发货"}`))
	}))
	t.Cleanup(srv.Close)
	return srv.URL, &hits
}

const answerTracking = "物流状态：已发货"

// A turn with two replies is answered with one passive reply carrying both
// (PROTOCOLS.md §1.3: one passive reply, one message) and nothing active.
func TestTwoRepliesMergedIntoOnePassiveReply(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "safe", "")
	h.flowsDir = testFlows(t, "http://127.0.0.1:1/unused")
	srv := h.Start(t, nil)
	h.fake.CustomerMessaged(appID, "oUserTwo")
	_, reply := h.say(t, srv, oaText("oUserTwo", "两条", 9001, time.Now()))
	if reply != answerFirst+"\n\n"+answerSecond {
		t.Fatalf("passive reply %q, want both replies merged", reply)
	}
	time.Sleep(1500 * time.Millisecond)
	if got := h.activeTexts(t, "oUserTwo"); len(got) != 0 {
		t.Fatalf("active sends %q, want none", got)
	}
}

// The slow answer of a verified account: the callback is acknowledged
// within the budget, the typing indicator shows, and the answer reaches the
// customer exactly once through the customer-service API although WeChat
// retried the push three times, one retry landing on a second kefu process
// sharing the Redis. The slow look-up runs once.
func TestSlowAnswerSentOnceDespiteRetries(t *testing.T) {
	t.Parallel()
	url, hits := slowServer(t, 1200*time.Millisecond)
	h := newHarness(t, "safe", "")
	h.budget = 300 * time.Millisecond
	h.flowsDir = testFlows(t, url)
	slowAnswer(t, h, "查物流", answerTracking, 0, hits.Load)
}

// The case with WeChat's real timing: an LLM that takes 8 s to
// answer a question no flow or FAQ covers, the default 4 s passive budget,
// and WeChat's three attempts 5 s apart (PROTOCOLS.md §1.2), the last on a
// second kefu process. Every attempt gets `success` inside the budget, the
// LLM is asked once, and its answer reaches the customer once, actively.
func TestSlowLLMAnswerRealTiming(t *testing.T) {
	t.Parallel()
	const answer = "我们用可回收的纸箱包装，外层不再套塑料袋。"
	llm := fakellm.New(t, func(fakellm.Request) string { return answer })
	llm.Slow(8 * time.Second)
	h := newHarness(t, "safe", "")
	h.budget = 4 * time.Second
	h.top = fmt.Sprintf("llm: { base_url: %q, model: test-model, timeout: 20s }\n", llm.BaseURL())
	slowAnswer(t, h, "你们的包装环保吗", answer, 5*time.Second, func() int64 { return int64(len(llm.Requests())) })
}

// slowAnswer sends text as one push and WeChat's retries of it (the third
// to a second process), checks each is acknowledged with `success` within
// h.budget, then that the customer receives want exactly once through the
// API, that the slow work ran once (calls) and that typing showed once.
func slowAnswer(t *testing.T, h *harness, text, want string, retryEvery time.Duration, calls func() int64) {
	a := h.Start(t, nil)
	b := h.Start(t, a.DB)
	const customer = "oUserSlow"
	h.fake.CustomerMessaged(appID, customer)
	payload := oaText(customer, text, 7007, time.Now())
	for i, srv := range []*apptest.Server{a, a, b} {
		if i > 0 {
			time.Sleep(retryEvery)
		}
		start := time.Now()
		status, reply := h.say(t, srv, payload)
		took := time.Since(start)
		if status != http.StatusOK || reply != "" {
			t.Fatalf("attempt %d answered %d %q, want 200 success", i+1, status, reply)
		}
		if took > h.budget+250*time.Millisecond {
			t.Fatalf("attempt %d took %s, over the %s budget", i+1, took, h.budget)
		}
	}
	eventually(t, 20*time.Second, "the answer through the API", func() bool { return len(h.activeTexts(t, customer)) > 0 })
	time.Sleep(1500 * time.Millisecond)
	if got := h.activeTexts(t, customer); len(got) != 1 || got[0] != want {
		t.Fatalf("customer received %q, want exactly one %q", got, want)
	}
	if n := calls(); n != 1 {
		t.Fatalf("the slow work ran %d times, want once", n)
	}
	typing := 0
	for _, r := range h.fake.Calls("/cgi-bin/message/custom/typing") {
		if r.String("touser") == customer && r.String("command") == "Typing" {
			typing++
		}
	}
	if typing != 1 {
		t.Fatalf("typing shown %d times, want once (the retries are not turns)", typing)
	}
	// One message sent of the five the customer's message allows; a retry
	// arriving after the send must not have handed that one back.
	oa, _ := a.App.Adapters.Lookup(h.Kind(), account)
	if w, err := oa.(adapters.WindowChecker).Window(context.Background(), message.Party{ID: customer}); err != nil || w.Remaining != 4 {
		t.Fatalf("window after the answer = %+v, %v; want 4 left", w, err)
	}
}

// An unverified account has no API: a slow answer is replaced by the hint,
// kept, and delivered with the customer's next message, merged with the
// answer to that message. Nothing ever calls the API.
func TestUnverifiedDefersSlowAnswerToNextMessage(t *testing.T) {
	t.Parallel()
	const custom = "稍等，正在帮您查，回复任意内容看结果。"
	for _, tt := range []struct{ name, extra, hint string }{
		{"default hint", "", wechatoa.DefaultDeferredHint},
		{"configured hint", "deferred_hint: " + custom, custom},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			url, _ := slowServer(t, 800*time.Millisecond)
			h := newHarness(t, "plain", tt.extra)
			h.unverified = true
			h.budget = 300 * time.Millisecond
			h.flowsDir = testFlows(t, url)
			srv := h.Start(t, nil)
			const customer = "oUserUnverified"
			conv := "wechat_oa:shop:" + customer
			if _, reply := h.say(t, srv, oaText(customer, "查物流", 1, time.Now())); reply != tt.hint {
				t.Fatalf("slow answer replaced by %q, want the deferred hint %q", reply, tt.hint)
			}
			eventually(t, 10*time.Second, "the answer kept for the next message", func() bool {
				return srv.DB.Client.LLen(context.Background(), srv.App.Store.Keys.Pending(conv)).Val() == 1
			})
			_, reply := h.say(t, srv, oaText(customer, "你好", 2, time.Now()))
			if reply != answerTracking+"\n\n"+answerHello {
				t.Fatalf("next message answered %q, want the kept answer then the new one", reply)
			}
			if n := len(h.fake.Requests()); n != 0 {
				t.Fatalf("an unverified account called the API %d times", n)
			}
			a, _ := srv.App.Adapters.Lookup(h.Kind(), account)
			if w, _ := a.(adapters.WindowChecker).Window(context.Background(), message.Party{ID: customer}); w.Open || !strings.Contains(w.Reason, "unverified") {
				t.Fatalf("window of an unverified account = %+v, want closed with the reason", w)
			}
		})
	}
}

// An unverified account delivers a long answer a part per customer
// message, each but the last ending with the more hint, until all of it
// has arrived in order.
func TestUnverifiedLongAnswerOnePartPerMessage(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "safe", "")
	h.unverified = true
	h.flowsDir = testFlows(t, "http://127.0.0.1:1/unused")
	srv := h.Start(t, nil)
	const customer = "oUserLongUnverified"
	conv := "wechat_oa:shop:" + customer
	const hint = "（回复任意内容查看后续消息）"
	var got strings.Builder
	_, reply := h.say(t, srv, oaText(customer, "长回复", 10, time.Now()))
	for i := 0; i < 6; i++ {
		if len(reply) > 2048 {
			t.Fatalf("passive reply of %d bytes", len(reply))
		}
		more := strings.HasSuffix(reply, "\n"+hint)
		got.WriteString(strings.TrimSuffix(reply, "\n"+hint))
		if !more {
			break
		}
		eventually(t, 10*time.Second, "the rest kept", func() bool {
			return srv.DB.Client.LLen(context.Background(), srv.App.Store.Keys.Pending(conv)).Val() > 0
		})
		_, reply = h.say(t, srv, oaText(customer, "继续", int64(11+i), time.Now()))
	}
	all := got.String()
	if !strings.HasPrefix(all, conformance.LongReply) {
		t.Fatalf("the parts received do not start with the whole long reply in order:\n%q", all)
	}
}

// Platform refusals the tracker did not foresee — 45015 (window closed) and
// 45047 (quota used) — are recorded as undeliverable with the reason, never
// as sent; 45015 also closes kefu's record of the window.
func TestPlatformWindowRefusalsRecorded(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "plain", "")
	srv := h.Start(t, nil)
	a, _ := srv.App.Adapters.Lookup(h.Kind(), account)
	for _, tc := range []struct {
		code   int
		reason string
		closed bool
	}{
		{fakeplatform.CodeWindowClosed, "reply window closed", true},
		{fakeplatform.CodeQuotaExceeded, "reply quota exceeded", false},
	} {
		customer := "oUserRefused" + string(rune('A'+tc.code%26))
		h.OpenWindow(t, srv, customer)
		h.fake.Fail("/cgi-bin/message/custom/send", fakeplatform.Fault{ErrCode: tc.code, ErrMsg: "refused (fake)"})
		conv := deliver(t, srv, customer, "平台拒绝的消息")
		reasons := waitUndeliverable(t, srv, conv)
		if len(reasons) != 1 || !strings.Contains(reasons[0], tc.reason) || !strings.Contains(reasons[0], "errcode") {
			t.Fatalf("errcode %d recorded as %q, want %q with the platform's code", tc.code, reasons, tc.reason)
		}
		w, _ := a.(adapters.WindowChecker).Window(context.Background(), message.Party{ID: customer})
		if w.Open == tc.closed {
			t.Fatalf("window after errcode %d = %+v", tc.code, w)
		}
	}
	// Counted as failed, never as sent.
	out := func(result string) float64 {
		var d dto.Metric
		if err := srv.App.Metrics.MessagesOut.WithLabelValues("wechat_oa", string(message.KindText), result).Write(&d); err != nil {
			t.Fatal(err)
		}
		return d.GetCounter().GetValue()
	}
	if failed, sent := out("failed"), out("sent"); failed != 2 || sent != 0 {
		t.Fatalf("kefu_messages_out_total: failed %v, sent %v; want 2 and 0", failed, sent)
	}
}

// deliver sends text to customer outside a turn, as an agent or a
// follow-up does, and returns the conversation id.
func deliver(t testing.TB, srv *apptest.Server, customer string, texts ...string) string {
	t.Helper()
	conv := "wechat_oa:shop:" + customer
	msgs := make([]message.Message, len(texts))
	for i, x := range texts {
		msgs[i] = message.Message{Kind: message.KindText, Text: x, From: message.Party{Role: message.RoleBot}}
	}
	if _, err := srv.App.Router.Deliver(context.Background(), router.Delivery{
		ConversationID: conv, Channel: "wechat_oa", Account: account,
		Customer: message.Party{ID: customer, Role: message.RoleCustomer}, Messages: msgs,
	}); err != nil {
		t.Fatal(err)
	}
	return conv
}

func waitUndeliverable(t testing.TB, srv *apptest.Server, conv string) []string {
	t.Helper()
	var reasons []string
	eventually(t, 10*time.Second, "an undeliverable record", func() bool {
		reasons = nil
		for _, e := range srv.DB.Client.XRange(context.Background(), srv.App.Store.Keys.Undeliverable(), "-", "+").Val() {
			if e.Values["conversation"] == conv {
				reasons = append(reasons, e.Values["reason"].(string))
			}
		}
		return len(reasons) > 0
	})
	return reasons
}

// Two texts typed one after another within merge_window are answered
// once, together, by the passive reply to the second; the first push is
// acknowledged with success (LESSONS.md "Bursts of short messages").
func TestBurstAnsweredOnce(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "safe", "")
	h.budget, h.merge = 2*time.Second, 600*time.Millisecond
	h.flowsDir = testFlows(t, "http://127.0.0.1:1/unused")
	srv := h.Start(t, nil)
	const customer = "oUserBurst"
	h.fake.CustomerMessaged(appID, customer)
	first := make(chan string, 1)
	go func() {
		_, r := h.say(t, srv, oaText(customer, "在吗", 501, time.Now()))
		first <- r
	}()
	time.Sleep(200 * time.Millisecond)
	_, second := h.say(t, srv, oaText(customer, "你好", 502, time.Now()))
	if r := <-first; r != "" {
		t.Fatalf("the first text of the burst was answered %q, want success", r)
	}
	if second == "" {
		t.Fatal("the burst got no answer")
	}
	time.Sleep(1500 * time.Millisecond)
	if got := h.activeTexts(t, customer); len(got) != 0 {
		t.Fatalf("active sends %q besides the passive answer", got)
	}
}
