package handoff_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/kefu-gateway/kefu/adapters"
	"github.com/kefu-gateway/kefu/adapters/message"
	"github.com/kefu-gateway/kefu/handoff"
	"gopkg.in/yaml.v3"
)

// fakeKF stands in for the 微信客服 adapter: it records sends and the
// transfers to WeCom's reception, refusing sends while the reception holds
// the session, as the platform does (send_msg only in states 0 and 1,
// PROTOCOLS.md §3.3).
type fakeKF struct {
	mu          sync.Mutex
	transferred []string
	sent        []string
	serving     bool
	failNext    bool
}

var (
	kfOnce sync.Once
	kfAcct = &fakeKF{}
)

func (f *fakeKF) Channel() string { return handoff.KFChannel }
func (f *fakeKF) Account() string { return "kf1" }
func (f *fakeKF) Capabilities() adapters.Capabilities {
	return adapters.Capabilities{MaxTextBytes: 2048}
}
func (f *fakeKF) Send(ctx context.Context, m message.Message) (adapters.SendResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.serving {
		return adapters.SendResult{}, adapters.Permanent(errors.New("95018: a servicer owns the session"))
	}
	f.sent = append(f.sent, m.Text)
	return adapters.SendResult{}, nil
}
func (f *fakeKF) TransferWithNotice(ctx context.Context, c message.Party, openKfID, servicer, notice string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failNext {
		f.failNext = false
		return errors.New("95004 not exist")
	}
	f.transferred = append(f.transferred, c.ID+"@"+openKfID+">"+servicer)
	f.sent = append(f.sent, notice) // send_msg_on_event with the transfer's msg_code
	f.serving = true
	return nil
}
func (f *fakeKF) ServicerServing(ctx context.Context, c message.Party, openKfID string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.serving, nil
}
func (f *fakeKF) endSession() {
	f.mu.Lock()
	f.serving = false
	f.mu.Unlock()
}
func (f *fakeKF) botAnswers() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, s := range f.sent {
		if s == "hello there" {
			n++
		}
	}
	return n
}
func (f *fakeKF) Adapters() []adapters.Adapter { return []adapters.Adapter{f} }
func (f *fakeKF) Mount(fiber.Router)           {}

var (
	_ handoff.ServicerTransferrer    = (*fakeKF)(nil)
	_ handoff.ServicerSessionChecker = (*fakeKF)(nil)
)

func registerFakeKF(t *testing.T) {
	kfOnce.Do(func() {
		if slices.Contains(adapters.Kinds(), handoff.KFChannel) {
			return
		}
		adapters.Register(handoff.KFChannel, func(adapters.Deps, *yaml.Node, string) (adapters.Channel, error) { return kfAcct, nil })
	})
	if !slices.Contains(adapters.Kinds(), handoff.KFChannel) {
		t.Skip("a real wecom_kf adapter is linked into this test binary")
	}
	// The fake is shared by the test binary: each test starts it afresh
	// (also when -count runs a test again).
	kfAcct.mu.Lock()
	kfAcct.transferred, kfAcct.sent, kfAcct.serving, kfAcct.failNext = nil, nil, false, false
	kfAcct.mu.Unlock()
}

// On a 微信客服 account set to use WeCom's own reception, a handoff
// transfers the session with kefu's sentence attached, and the bot stays
// silent until the session is over; then it answers again.
func TestKFServicerHandoff(t *testing.T) {
	registerFakeKF(t)
	e := setup(t, options{channels: map[string]string{handoff.KFChannel: "[]"}, handoff: `
agent_channel: fake
kf_servicer: [ { account: kf1, servicer: zhangsan } ]
agents:
  - { id: alice, name: Alice, wecom_user: alice-wx, wecom_app: WECOM }
`})
	ctx := context.Background()
	e.agent("alice-wx", "/online")
	e.waitFor(e.wecom, "alice-wx", "您已上线")
	conv := "wecom_kf:kf1:wkAAA/wm1" // the adapter's conversation id form
	seq := 0
	customer := func(m message.Message) {
		seq++
		m.ID, m.Channel, m.Account, m.ConversationID = fmt.Sprintf("k%d", seq), handoff.KFChannel, "kf1", conv
		m.From = message.Party{ID: "wm1", Name: "微信用户"}
		e.accept(m)
	}
	text := func(s string) message.Message { return message.Message{Kind: message.KindText, Text: s} }
	owner := func() string {
		o, _ := e.db.Client.HGet(ctx, e.keys.Conversation(conv), "o").Result()
		return o
	}
	waitOwner := func(want string) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for owner() != want && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if o := owner(); o != want {
			t.Fatalf("owner = %q, want %q", o, want)
		}
	}

	customer(text("人工"))
	waitOwner("kf:zhangsan")
	kfAcct.mu.Lock()
	transferred, sent := slices.Clone(kfAcct.transferred), slices.Clone(kfAcct.sent)
	kfAcct.mu.Unlock()
	if len(transferred) != 1 || transferred[0] != "wm1@wkAAA>zhangsan" {
		t.Fatalf("transfers = %q", transferred)
	}
	if !slices.Contains(sent, handoff.DefaultTexts().Servicer) {
		t.Fatalf("the customer was not told with the transfer: %q", sent)
	}
	if len(sentTo(e.wecom, "alice-wx")) != 1 {
		t.Fatal("a kefu agent was notified of a conversation WeCom's reception serves")
	}
	// While the servicer serves, the bot says nothing.
	customer(text("hi"))
	e.settle()
	if n := kfAcct.botAnswers(); n != 0 {
		t.Fatalf("the bot answered %d times during the servicer's session", n)
	}
	// The session ends; the customer's next message finds the bot back.
	kfAcct.endSession()
	customer(text("hi"))
	waitOwner("")
	customer(text("hi"))
	deadline := time.Now().Add(5 * time.Second)
	for kfAcct.botAnswers() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := kfAcct.botAnswers(); n != 1 {
		t.Fatalf("bot answers after the session = %d, want 1", n)
	}
	// An adapter that reports the end of the session releases at once.
	customer(text("人工"))
	waitOwner("kf:zhangsan")
	customer(message.Message{Kind: message.KindEvent, Event: &message.Event{Type: handoff.EventKFSessionEnded}})
	waitOwner("")

	// When the transfer fails, kefu's own agents take the customer.
	kfAcct.endSession()
	kfAcct.mu.Lock()
	kfAcct.failNext = true
	kfAcct.mu.Unlock()
	customer(text("人工"))
	e.waitFor(e.wecom, "alice-wx", "【新客户】微信用户")
}
