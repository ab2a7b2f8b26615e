package wechatoa_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/kefu-gateway/kefu/adapters"
	"github.com/kefu-gateway/kefu/adapters/internal/fakeplatform"
	"github.com/kefu-gateway/kefu/adapters/message"
)

const fallbackConfig = `
template_fallback:
  template_id: TPL_REPLY_NOTICE
  fields: { thing1: "{{text}}", time2: "{{time}}" }
  max_value_runes: 20`

// Outside the window a message goes as the configured template message,
// its text cut to the field's length; nothing is recorded as undeliverable.
// The platform's 45015 falls back the same way.
func TestTemplateFallbackOutsideWindow(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "plain", fallbackConfig)
	srv := h.Start(t, nil)
	long := "您的退货申请已经审核通过，请在七天内寄回商品并填写快递单号。"
	conv := deliver(t, srv, "oUserNoWindow", long)
	eventually(t, 10*time.Second, "the template message", func() bool {
		return len(h.fake.Calls("/cgi-bin/message/template/send")) == 1
	})
	r := h.fake.Calls("/cgi-bin/message/template/send")[0]
	data, _ := r.JSON["data"].(map[string]any)
	thing, _ := data["thing1"].(map[string]any)
	tm, _ := data["time2"].(map[string]any)
	if r.String("touser") != "oUserNoWindow" || r.String("template_id") != "TPL_REPLY_NOTICE" ||
		thing["value"] != string([]rune(long)[:19])+"…" || tm["value"] == "" {
		t.Fatalf("template call %s", r.Body)
	}
	if n := len(h.fake.Calls("/cgi-bin/message/custom/send")); n != 0 {
		t.Fatalf("%d customer-service sends outside the window", n)
	}

	h.OpenWindow(t, srv, "oUserRefusedByPlatform")
	h.fake.Fail("/cgi-bin/message/custom/send", fakeplatform.Fault{ErrCode: fakeplatform.CodeWindowClosed})
	conv2 := deliver(t, srv, "oUserRefusedByPlatform", "平台说窗口已关")
	eventually(t, 10*time.Second, "the second template message", func() bool {
		return len(h.fake.Calls("/cgi-bin/message/template/send")) == 2
	})
	time.Sleep(500 * time.Millisecond)
	for _, c := range []string{conv, conv2} {
		for _, e := range srv.DB.Client.XRange(context.Background(), srv.App.Store.Keys.Undeliverable(), "-", "+").Val() {
			if e.Values["conversation"] == c {
				t.Fatalf("a message sent by template was recorded undeliverable: %v", e.Values)
			}
		}
	}
}

// A token WeChat refuses (40001) is dropped, fetched again and the call
// retried once: the message goes out once. Two processes share one token.
func TestTokenRefreshedOnceAndShared(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "plain", "")
	a := h.Start(t, nil)
	b := h.Start(t, a.DB)
	h.OpenWindow(t, a, "oUserToken")
	deliver(t, a, "oUserToken", "第一条")
	eventually(t, 10*time.Second, "the first send", func() bool { return len(h.activeTexts(t, "oUserToken")) == 1 })
	deliver(t, b, "oUserToken", "第二条")
	eventually(t, 10*time.Second, "the second send", func() bool { return len(h.activeTexts(t, "oUserToken")) == 2 })
	if n := h.fake.TokenCalls(appID); n != 1 {
		t.Fatalf("%d token fetches for two processes, want 1 (shared through Redis)", n)
	}
	h.fake.RevokeTokens()
	deliver(t, b, "oUserToken", "第三条")
	eventually(t, 10*time.Second, "the third send", func() bool { return len(h.activeTexts(t, "oUserToken")) == 3 })
	time.Sleep(500 * time.Millisecond)
	if got := h.activeTexts(t, "oUserToken"); strings.Join(got, ",") != "第一条,第二条,第三条" {
		t.Fatalf("sent %q", got)
	}
	calls := h.fake.Calls("/cgi-bin/message/custom/send")
	if len(calls) != 4 || calls[2].App != "" || calls[3].App != appID {
		t.Fatalf("%d custom/send calls; want 4 with the third refused and retried", len(calls))
	}
	if n := h.fake.TokenCalls(appID); n != 2 {
		t.Fatalf("%d token calls after the refusal, want 2 (one fresh token)", n)
	}
}

// A send that fails in transit is retried by the outbox; the quota taken
// for the failed attempt is given back, so one delivered message costs one.
func TestTransientFailureRetriedAndRefunded(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "plain", "")
	h.top = "workers: { retry_base: 100ms, retry_max: 200ms }\n"
	srv := h.Start(t, nil)
	h.OpenWindow(t, srv, "oUserFlaky")
	h.fake.Fail("/cgi-bin/message/custom/send", fakeplatform.Fault{Status: 503})
	deliver(t, srv, "oUserFlaky", "重试后送达")
	eventually(t, 10*time.Second, "the retried send", func() bool { return len(h.activeTexts(t, "oUserFlaky")) == 1 })
	a, _ := srv.App.Adapters.Lookup(h.Kind(), account)
	w, err := a.(adapters.WindowChecker).Window(context.Background(), message.Party{ID: "oUserFlaky"})
	if err != nil || !w.Open || w.Remaining != 4 {
		t.Fatalf("window after one delivered message = %+v, %v; want 4 left", w, err)
	}
}

// WindowChecker and TemplateSender, as follow-ups and agents call them.
func TestWindowCheckerAndTemplateSender(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "plain", "")
	srv := h.Start(t, nil)
	a, _ := srv.App.Adapters.Lookup(h.Kind(), account)
	wc, ts := a.(adapters.WindowChecker), a.(adapters.TemplateSender)
	ctx := context.Background()
	party := message.Party{ID: "oUserChecker"}
	if w, err := wc.Window(ctx, party); err != nil || w.Open || w.Reason == "" {
		t.Fatalf("window before any message = %+v, %v", w, err)
	}
	h.fake.CustomerMessaged(appID, party.ID)
	h.say(t, srv, oaText(party.ID, "你好", 4242, time.Now()))
	w, err := wc.Window(ctx, party)
	if err != nil || !w.Open || w.Remaining != 5 || time.Until(w.Closes) < 47*time.Hour {
		t.Fatalf("window after a message = %+v, %v; want 5 messages for 48h", w, err)
	}
	res, err := ts.SendTemplate(ctx, party, "TPL_ORDER", map[string]string{"character_string1": "100001"}, "https://shop.example.com/o/100001")
	if err != nil || res.PlatformID == "" {
		t.Fatalf("SendTemplate = %+v, %v", res, err)
	}
	calls := h.fake.Calls("/cgi-bin/message/template/send")
	if len(calls) != 1 || calls[0].String("url") != "https://shop.example.com/o/100001" || !strings.Contains(string(calls[0].Body), `"character_string1":{"value":"100001"}`) {
		t.Fatalf("template call %+v", calls)
	}
	h.fake.Fail("/cgi-bin/message/template/send", fakeplatform.Fault{ErrCode: 40037, ErrMsg: "invalid template_id"})
	if _, err := ts.SendTemplate(ctx, party, "TPL_BAD", map[string]string{"a": "b"}, ""); !errors.Is(err, adapters.ErrPermanent) || !strings.Contains(err.Error(), "40037") {
		t.Fatalf("SendTemplate with a bad template = %v, want a permanent error naming 40037", err)
	}
}

// A WeChat retry of message A after three answers were sent actively
// neither renews A's grant nor hands back the three sends:
//   - after a newer message B, the retry carries A's CreateTime, older than
//     the grant B opened;
//   - for A stamped ahead of kefu's clock (armed from kefu's now), the
//     retry comes when now is later, and only the message id the grant
//     keeps (Arming.Source) tells it is the same push.
func TestRetryKeepsUsedQuota(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, customer string
		msgID          int64
		stamp          time.Duration // A's CreateTime from now
		newer          bool          // B comes after A
	}{
		{"after a newer message", "oUserRetryLate", 9101, -2 * time.Second, true},
		{"of a push stamped ahead", "oUserRetryAhead", 9201, 3 * time.Second, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, "plain", "")
			srv := h.Start(t, nil)
			h.fake.CustomerMessaged(appID, tc.customer)
			a := oaText(tc.customer, "你好", tc.msgID, time.Now().Add(tc.stamp))
			h.say(t, srv, a)
			if tc.newer {
				h.say(t, srv, oaText(tc.customer, "你好", tc.msgID+1, time.Now().Add(-time.Second)))
			}
			deliver(t, srv, tc.customer, "一", "二", "三")
			eventually(t, 10*time.Second, "three active sends", func() bool { return len(h.activeTexts(t, tc.customer)) == 3 })
			time.Sleep(5 * time.Millisecond) // kefu's now moves on
			h.say(t, srv, a)                 // the retry
			ad, _ := srv.App.Adapters.Lookup(h.Kind(), account)
			if w, err := ad.(adapters.WindowChecker).Window(context.Background(), message.Party{ID: tc.customer}); err != nil || w.Remaining != 2 {
				t.Fatalf("window after A, three sends and A's retry = %+v, %v; want 2 left", w, err)
			}
		})
	}
}
