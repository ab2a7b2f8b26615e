package handoff_test

import (
	"context"
	"sync"
	"testing"

	"github.com/gofiber/fiber/v2"
	"github.com/kefu-gateway/kefu/adapters"
	"github.com/kefu-gateway/kefu/adapters/message"
	"gopkg.in/yaml.v3"
)

// windowed is a channel whose platform limits what the business may send
// (WeChat: 5 messages within 48 h of the customer's last one).
const windowedKind = "handofftest_windowed"

type windowed struct {
	mu     sync.Mutex
	open   bool
	remain int
	sent   []message.Message
}

var (
	windowedOnce sync.Once
	windowedAcct = &windowed{open: true, remain: -1}
)

func (w *windowed) Channel() string { return windowedKind }
func (w *windowed) Account() string { return "oa" }
func (w *windowed) Capabilities() adapters.Capabilities {
	return adapters.Capabilities{MaxTextBytes: 2048}
}
func (w *windowed) Send(ctx context.Context, m message.Message) (adapters.SendResult, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.sent = append(w.sent, m)
	return adapters.SendResult{}, nil
}
func (w *windowed) Window(ctx context.Context, c message.Party) (adapters.Window, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.open {
		return adapters.Window{Reason: "48h window closed"}, nil
	}
	return adapters.Window{Open: true, Remaining: w.remain}, nil
}
func (w *windowed) set(open bool, remain int) {
	w.mu.Lock()
	w.open, w.remain = open, remain
	w.mu.Unlock()
}
func (w *windowed) Adapters() []adapters.Adapter { return []adapters.Adapter{w} }
func (w *windowed) Mount(fiber.Router)           {}

var _ adapters.WindowChecker = (*windowed)(nil)

// The agent is told at once when the customer can no longer be reached,
// instead of the reply failing later out of sight; and no rating question
// is sent where it would not get through.
func TestCustomerWindowIsRespected(t *testing.T) {
	windowedOnce.Do(func() {
		adapters.Register(windowedKind, func(adapters.Deps, *yaml.Node, string) (adapters.Channel, error) { return windowedAcct, nil })
	})
	e := setup(t, options{channels: map[string]string{windowedKind: "[]"}})
	conv := windowedKind + ":oa:o1"
	n := 0
	customer := func(text string) {
		n++
		e.accept(message.Message{ID: "w" + string(rune('a'+n)), Channel: windowedKind, Account: "oa", ConversationID: conv,
			From: message.Party{ID: "o1", Name: "公众号用户"}, Kind: message.KindText, Text: text})
	}
	e.agent("alice-wx", "/online")
	customer("人工")
	e.waitFor(e.wecom, "alice-wx", "【新客户】公众号用户")

	windowedAcct.set(false, 0)
	e.agent("alice-wx", "您好，还在吗？")
	e.waitFor(e.wecom, "alice-wx", "消息未送达：客户 公众号用户 的消息窗口已关闭（48h window closed）")

	// One message left: the closing sentence goes, the question does not.
	windowedAcct.set(true, 1)
	e.agent("alice-wx", "/end")
	e.waitFor(e.wecom, "alice-wx", "已结束")
	e.settle()
	windowedAcct.mu.Lock()
	defer windowedAcct.mu.Unlock()
	for _, m := range windowedAcct.sent {
		if m.Text == "您好，还在吗？" {
			t.Error("a reply was sent outside the customer's window")
		}
		if m.Text == "请为本次服务打分：回复 1-5 的数字（5 = 非常满意，1 = 非常不满意）。" {
			t.Error("the rating question was sent with no quota left for it")
		}
	}
	if len(windowedAcct.sent) == 0 || windowedAcct.sent[len(windowedAcct.sent)-1].Text != "本次人工服务已结束，感谢您的耐心。智能客服继续为您服务。" {
		t.Errorf("sent = %+v", windowedAcct.sent)
	}
}
