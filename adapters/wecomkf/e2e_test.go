package wecomkf_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kefu-gateway/kefu/adapters/internal/fakeplatform"
	"github.com/kefu-gateway/kefu/adapters/message"
	"github.com/kefu-gateway/kefu/adapters/wecomkf"
	"github.com/kefu-gateway/kefu/internal/testutil/apptest"
	"github.com/kefu-gateway/kefu/router"
	"github.com/redis/go-redis/v9"
)

const (
	corpID   = "ww0123456789abcdef"
	kfSecret = "kf-secret-never-logged"
	token    = "kefutoken"
	aesKey   = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
	kf       = "wkShop0001"
	greeting = "您好！我是小店的智能客服"
	hours    = "小店客服时间为每天"
)

type world struct {
	t    *testing.T
	fake *fakeplatform.WeCom
	srv  *apptest.Server
}

func kfConfig(apiBase, extra string) string {
	return fmt.Sprintf(`
flows: { dir: %s/configs/flows }
channels:
  wecom_kf:
    - id: shop
      corp_id: %s
      secret: %s
      token: %s
      encoding_aes_key: %s
      api_base: %s
      timeout: 3s
%s`, apptest.RepoRoot(), corpID, kfSecret, token, aesKey, apiBase, extra)
}

func start(t *testing.T, extra string) *world {
	fake := fakeplatform.NewWeCom(t)
	fake.AddSecret(corpID, kfSecret)
	fake.EnforceWindow(true)
	return &world{t: t, fake: fake, srv: apptest.Start(t, kfConfig(fake.URL(), extra), apptest.Options{})}
}

// callback sends WeCom's kf_msg_or_event notification to kefu.
func (w *world) callback() {
	w.t.Helper()
	s := fakeplatform.CallbackSigner{Token: token, EncodingAESKey: aesKey, ReceiveID: corpID}
	r, err := s.WeComPush("/wecom/kf/shop", fakeplatform.KFCallback(corpID, w.fake.CallbackToken(), kf, time.Now()), "")
	if err != nil {
		w.t.Fatal(err)
	}
	req, _ := http.NewRequest(r.Method, w.srv.URL+r.URL.RequestURI(), r.Body)
	req.Header = r.Header
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || len(body) != 0 {
		w.t.Fatalf("callback = %d %q", resp.StatusCode, body)
	}
}

func (w *world) sends() []fakeplatform.Request { return w.fake.Calls("/cgi-bin/kf/send_msg") }

func (w *world) waitSends(n int) []fakeplatform.Request {
	w.t.Helper()
	eventually(w.t, 15*time.Second, fmt.Sprintf("%d send_msg calls", n), func() bool { return len(w.sends()) >= n })
	time.Sleep(300 * time.Millisecond) // nothing more may follow
	got := w.sends()
	if len(got) != n {
		w.t.Fatalf("%d send_msg calls, want %d", len(got), n)
	}
	return got
}

func (w *world) transcript(user string) []message.Message {
	w.t.Helper()
	msgs, err := router.NewTranscriptReader(w.srv.DB.Client, w.srv.App.Store.Keys).After(context.Background(), wecomkf.ConversationID("shop", kf, user), "", 100)
	if err != nil {
		w.t.Fatal(err)
	}
	return msgs
}

func (w *world) undeliverable() []string {
	w.t.Helper()
	xs, err := w.srv.DB.Client.XRange(context.Background(), w.srv.App.Store.Keys.Undeliverable(), "-", "+").Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		w.t.Fatal(err)
	}
	var out []string
	for _, x := range xs {
		out = append(out, fmt.Sprint(x.Values["reason"]))
	}
	return out
}

func content(r fakeplatform.Request) string {
	text, _ := r.JSON["text"].(map[string]any)
	return fmt.Sprint(text["content"])
}

func eventually(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var msgIDPattern = regexp.MustCompile(`^[0-9A-Za-z_-]{1,32}$`)

// A burst — several customer messages between callbacks, read over pages of
// two with an empty has_more page in front — is answered once per message,
// in order, each part with its own msgid.
func TestBurstIsAnsweredOnceInOrder(t *testing.T) {
	t.Parallel()
	w := start(t, "")
	w.fake.SetSyncPageSize(2)
	w.fake.InjectEmptyPages(1)
	w.fake.PushCustomerText(kf, "wmAlice", "你好")
	w.fake.PushCustomerText(kf, "wmAlice", "营业时间")
	w.fake.PushCustomerText(kf, "wmBob", "hello")
	w.fake.PushCustomerText(kf, "wmAlice", "hi")
	w.fake.PushServicerText(kf, "wmBob", "servicer-li", "我是人工客服小李") // origin 5: never answered
	for i := 0; i < 3; i++ {
		w.callback()
	}
	sent := w.waitSends(4)
	ids := map[string]bool{}
	perUser := map[string]int{}
	for _, s := range sent {
		id := s.String("msgid")
		if !msgIDPattern.MatchString(id) || ids[id] || strings.HasPrefix(id, "fake-customer-msg-") {
			t.Errorf("msgid %q: must be unique, ≤32 of [0-9a-zA-Z_-], not the inbound id", id)
		}
		ids[id] = true
		perUser[s.String("touser")]++
		if s.String("open_kfid") != kf {
			t.Errorf("open_kfid %q", s.String("open_kfid"))
		}
	}
	if perUser["wmAlice"] != 3 || perUser["wmBob"] != 1 {
		t.Fatalf("replies per customer = %v", perUser)
	}
	// Alice's transcript: each message followed by its answer, in order.
	var lines []string
	for _, m := range w.transcript("wmAlice") {
		lines = append(lines, string(m.From.Role)+":"+firstRunes(m.Text, 8))
	}
	want := []string{"customer:你好", "bot:" + firstRunes(greeting, 8), "customer:营业时间", "bot:" + firstRunes(hours, 8), "customer:hi", "bot:" + firstRunes(greeting, 8)}
	if strings.Join(lines, "|") != strings.Join(want, "|") {
		t.Fatalf("transcript\n got %q\nwant %q", lines, want)
	}
	for _, m := range w.transcript("wmBob") {
		if strings.Contains(m.Text, "小李") {
			t.Fatal("a servicer's message (origin 5) reached the router")
		}
	}
	// The cursor is the platform's last one; pulls coalesced.
	cursor, _ := w.srv.DB.Client.Get(context.Background(), "kefu:kf:{shop:"+kf+"}:cursor").Result()
	if cursor != "fake-cursor-5" {
		t.Errorf("saved cursor %q, want fake-cursor-5", cursor)
	}
	if n := len(w.fake.Calls("/cgi-bin/kf/sync_msg")); n > 8 {
		t.Errorf("%d sync_msg calls for 3 callbacks: pulls did not coalesce", n)
	}
	if n := w.fake.TokenCalls(fakeplatform.WeComApp(corpID, kfSecret)); n != 1 {
		t.Errorf("%d kf token fetches, want 1", n)
	}
	// Alice's window: her messages were read before any answer left, so
	// the last one armed 5 sends within 48 h, and her 3 answers used 3.
	a, _ := w.srv.App.Adapters.Lookup(wecomkf.Kind, "shop")
	win, err := a.(*wecomkf.Account).Window(context.Background(), message.Party{ID: "wmAlice"})
	if err != nil || !win.Open || win.Remaining != 2 || time.Until(win.Closes) < 47*time.Hour {
		t.Errorf("Alice's window = %+v, %v; want open for 48 h with 2 left", win, err)
	}
	for _, e := range w.srv.Logs.All() {
		if strings.Contains(fmt.Sprint(e.Message, e.ContextMap()), kfSecret) {
			t.Fatal("the kf secret was logged")
		}
	}
}

func firstRunes(s string, n int) string {
	r := []rune(s)
	if len(r) > n {
		r = r[:n]
	}
	return string(r)
}

// The cursor lives in Redis: a new worker continues where the last one
// stopped, a failed pull is retried without losing its page, and a lost
// cursor re-reads history without answering anything twice.
func TestCursorSurvivesRestartAndFailures(t *testing.T) {
	t.Parallel()
	w := start(t, "")
	w.fake.PushCustomerText(kf, "wmCarol", "你好")
	w.fake.PushCustomerText(kf, "wmCarol", "营业时间")
	w.callback()
	w.waitSends(2)

	// The process stops; a message arrives; another process takes over.
	w.srv.App.Shutdown(context.Background())
	w.fake.PushCustomerText(kf, "wmCarol", "hi")
	w.srv = apptest.Start(t, kfConfig(w.fake.URL(), ""), apptest.Options{DB: w.srv.DB})
	before := len(w.fake.Calls("/cgi-bin/kf/sync_msg"))
	w.callback()
	w.waitSends(3)
	if c := w.fake.Calls("/cgi-bin/kf/sync_msg")[before].String("cursor"); c != "fake-cursor-2" {
		t.Errorf("the new worker pulled from cursor %q, want fake-cursor-2", c)
	}

	// A pull that fails is retried by the worker; the message is not lost.
	w.fake.Fail("/cgi-bin/kf/sync_msg", fakeplatform.Fault{ErrCode: -1, ErrMsg: "system busy"})
	w.fake.PushCustomerText(kf, "wmCarol", "hello")
	w.callback()
	w.waitSends(4)

	// Even with the cursor gone, re-reading three days of history answers
	// only the new message.
	w.srv.DB.Client.Del(context.Background(), "kefu:kf:{shop:"+kf+"}:cursor")
	w.fake.PushCustomerText(kf, "wmCarol", "菜单")
	w.callback()
	sent := w.waitSends(5)
	if !strings.Contains(content(sent[4]), "请选择您需要的服务") {
		t.Errorf("last reply %q, want the menu", content(sent[4]))
	}
	if n := len(w.transcript("wmCarol")); n != 10 {
		t.Errorf("transcript has %d entries, want 10 (5 messages, 5 answers)", n)
	}
}

// While a WeCom servicer serves the conversation (state 3) the bot stays
// silent: a 95018 or a state check stops the reply, the reason is recorded,
// and the state is never changed.
func TestHumanServedSessionStopsReplies(t *testing.T) {
	t.Parallel()
	w := start(t, "      state_cache: 1m")
	w.fake.PushCustomerText(kf, "wmDave", "你好")
	w.callback()
	w.waitSends(1)

	// A servicer takes over in the WeCom client; kefu's cached state is stale.
	w.fake.SetSessionState(kf, "wmDave", 3, "servicer-li")
	w.fake.PushCustomerText(kf, "wmDave", "hi")
	w.callback()
	eventually(t, 10*time.Second, "an undeliverable record", func() bool { return len(w.undeliverable()) == 1 })
	if r := w.undeliverable()[0]; !strings.Contains(r, "95018") {
		t.Errorf("reason %q does not name 95018", r)
	}
	// Now kefu knows: the next reply is not even attempted.
	w.fake.PushCustomerText(kf, "wmDave", "hello")
	w.callback()
	eventually(t, 10*time.Second, "a second undeliverable record", func() bool { return len(w.undeliverable()) == 2 })
	if r := w.undeliverable()[1]; !strings.Contains(r, "state 3") || !strings.Contains(r, "servicer-li") {
		t.Errorf("reason %q does not name state 3 and the servicer", r)
	}
	if n := len(w.sends()); n != 2 {
		t.Errorf("%d send_msg calls, want 2 (the first reply and the one refused with 95018)", n)
	}
	if n := len(w.fake.Calls("/cgi-bin/kf/service_state/trans")); n != 0 {
		t.Errorf("kefu changed the session state %d times", n)
	}
	if state, servicer := w.fake.SessionState(kf, "wmDave"); state != 3 || servicer != "servicer-li" {
		t.Errorf("state %d/%s, want 3/servicer-li", state, servicer)
	}
}

// A flow answering enter_session replies with the event's welcome_code
// through send_msg_on_event; an expired code is never used.
func TestEnterSessionWelcome(t *testing.T) {
	t.Parallel()
	w := start(t, "")
	_, code := w.fake.PushEnterSession(kf, "wmErin", "123", "product_page")
	w.callback()
	eventually(t, 10*time.Second, "the welcome", func() bool { return len(w.fake.Calls("/cgi-bin/kf/send_msg_on_event")) == 1 })
	got := w.fake.Calls("/cgi-bin/kf/send_msg_on_event")[0]
	if got.String("code") != code || !msgIDPattern.MatchString(got.String("msgid")) {
		t.Errorf("send_msg_on_event body %s", got.Body)
	}
	if c := content(got); !strings.Contains(c, "欢迎咨询") && !strings.Contains(c, "对商品有疑问") {
		t.Errorf("welcome text %q is not the product_page flow's", c)
	}
	// Then the customer writes: an ordinary send_msg.
	w.fake.PushCustomerText(kf, "wmErin", "你好")
	w.callback()
	w.waitSends(1)

	// An enter_session read after its code expired (20 s) is answered
	// without the code: here the customer never wrote, so there is no
	// window and the reply is recorded as undeliverable.
	w.fake.SetNow(func() time.Time { return time.Now().Add(-time.Minute) })
	w.fake.PushEnterSession(kf, "wmFrank", "123", "product_page")
	w.fake.SetNow(time.Now)
	w.callback()
	eventually(t, 10*time.Second, "an undeliverable record", func() bool { return len(w.undeliverable()) == 1 })
	if n := len(w.fake.Calls("/cgi-bin/kf/send_msg_on_event")); n != 1 {
		t.Errorf("an expired welcome_code was used (%d calls)", n)
	}
	if r := w.undeliverable()[0]; !strings.Contains(r, "window") {
		t.Errorf("reason %q", r)
	}
}

// The handoff component's hook: TransferToServicer hands the conversation to
// a WeCom servicer, never takes it from another, and the bot stops.
func TestTransferToServicer(t *testing.T) {
	t.Parallel()
	w := start(t, "")
	w.fake.PushCustomerText(kf, "wmGina", "你好")
	w.callback()
	w.waitSends(1)
	a, _ := w.srv.App.Adapters.Lookup(wecomkf.Kind, "shop")
	acc := a.(*wecomkf.Account)
	ctx := context.Background()
	gina := message.Party{ID: "wmGina"}
	_, openKfID, _, ok := wecomkf.ParseConversationID(wecomkf.ConversationID("shop", kf, "wmGina"))
	if !ok || openKfID != kf {
		t.Fatal("ParseConversationID")
	}
	if err := acc.TransferWithNotice(ctx, gina, openKfID, "servicer-wang", "正在为您转接人工客服，请稍候"); err != nil {
		t.Fatal(err)
	}
	if state, servicer := w.fake.SessionState(kf, "wmGina"); state != 3 || servicer != "servicer-wang" {
		t.Fatalf("state %d/%s after transfer", state, servicer)
	}
	notices := w.fake.Calls("/cgi-bin/kf/send_msg_on_event")
	if len(notices) != 1 || !strings.Contains(content(notices[0]), "转接") {
		t.Fatalf("transfer notice calls = %d", len(notices))
	}
	if err := acc.TransferToServicer(ctx, gina, openKfID, "servicer-wang"); err != nil {
		t.Errorf("transfer to the serving servicer again = %v, want nil", err)
	}
	if err := acc.TransferToServicer(ctx, gina, openKfID, "servicer-zhao"); !errors.Is(err, wecomkf.ErrHumanServing) {
		t.Errorf("transfer away from a serving human = %v, want ErrHumanServing", err)
	}
	if st, err := acc.ServiceState(ctx, gina, openKfID); err != nil || st.State != wecomkf.StateHuman || st.ServicerUserID != "servicer-wang" {
		t.Errorf("ServiceState = %+v, %v", st, err)
	}
	// The customer writes; the bot does not answer.
	w.fake.PushCustomerText(kf, "wmGina", "hi")
	w.callback()
	eventually(t, 10*time.Second, "an undeliverable record", func() bool { return len(w.undeliverable()) == 1 })
	if n := len(w.sends()); n != 1 {
		t.Errorf("%d send_msg calls, want 1", n)
	}
}
