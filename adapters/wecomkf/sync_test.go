package wecomkf

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kefu-gateway/kefu/adapters/internal/window"
	"github.com/kefu-gateway/kefu/adapters/internal/wxmsg"
	"github.com/kefu-gateway/kefu/adapters/message"
)

// goldenSyncServer serves gettoken, the golden sync_msg page for the first
// pull and an empty last page for its cursor; it records each pull's body.
type goldenSyncServer struct {
	*httptest.Server
	mu    sync.Mutex
	pulls []map[string]any
}

func newGoldenSyncServer(t *testing.T) *goldenSyncServer { return newGoldenSyncServerB(t) }

func newGoldenSyncServerB(t testing.TB) *goldenSyncServer {
	page, err := os.ReadFile("testdata/sync_page.json")
	if err != nil {
		t.Fatal(err)
	}
	g := &goldenSyncServer{}
	g.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/cgi-bin/gettoken":
			io.WriteString(w, `{"errcode":0,"access_token":"golden-token","expires_in":7200}`)
		case "/cgi-bin/kf/sync_msg":
			var body map[string]any
			json.NewDecoder(r.Body).Decode(&body)
			g.mu.Lock()
			g.pulls = append(g.pulls, body)
			g.mu.Unlock()
			if body["cursor"] == nil {
				w.Write(page)
				return
			}
			io.WriteString(w, `{"errcode":0,"errmsg":"ok","next_cursor":"golden-cursor-2","has_more":0,"msg_list":[]}`)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(g.Close)
	return g
}

// goldenPull is the shop account against the golden sync server, with
// three callbacks announced (sync state seq 3) and nothing pulled yet.
func goldenPull(t *testing.T) (*goldenSyncServer, *env, *Account) {
	t.Helper()
	srv := newGoldenSyncServer(t)
	e := newEnv(t, testAccounts(srv.URL), time.Unix(1700000600, 0))
	a := e.ch.accounts["shop"]
	e.deps.Redis.Set(context.Background(), a.keys.sync(goldenKfID, "seq"), 3, 0)
	return srv, e, a
}

// The golden page goes through the whole pull: customer messages and the
// enter_session event reach the router in page order, normalized as in
// testdata/sync_page.want.json; servicer messages and other events do not;
// the cursor advances page by page and the pull is marked complete.
func TestSyncGoldenPage(t *testing.T) {
	srv, e, a := goldenPull(t)
	ctx := context.Background()
	e.deps.Redis.Set(ctx, a.keys.sync(goldenKfID, "token"), "ENCcallbacktoken", 0)
	if err := a.sync(ctx, goldenKfID); err != nil {
		t.Fatal(err)
	}
	got := e.in.messages()
	for i := range got {
		got[i].Raw = nil
	}
	// Conversations are dispatched side by side; within one, order holds.
	sort.SliceStable(got, func(i, j int) bool { return got[i].ConversationID < got[j].ConversationID })
	if *update {
		writeJSON(t, "testdata/sync_page.want.json", got)
	}
	var want []message.Message
	readJSON(t, "testdata/sync_page.want.json", &want)
	gb, _ := json.Marshal(got)
	wb, _ := json.Marshal(want)
	if !bytes.Equal(gb, wb) {
		t.Errorf("dispatched messages\n got %s\nwant %s", gb, wb)
	}
	for _, m := range got {
		if m.From.ID == "" || strings.HasPrefix(m.ID, "from_servicer") {
			t.Errorf("dispatched a message that is not the customer's: %s", m.ID)
		}
	}
	if len(srv.pulls) != 2 || srv.pulls[0]["token"] != "ENCcallbacktoken" || srv.pulls[0]["open_kfid"] != goldenKfID ||
		srv.pulls[1]["cursor"] != "4gw7MepFLfgF2VC5npN" {
		t.Errorf("pulls = %v", srv.pulls)
	}
	if c, _ := e.deps.Redis.Get(ctx, a.keys.sync(goldenKfID, "cursor")).Result(); c != "golden-cursor-2" {
		t.Errorf("saved cursor %q", c)
	}
	if n, _ := e.deps.Redis.Get(ctx, a.keys.sync(goldenKfID, "synced")).Int(); n != 3 {
		t.Errorf("synced %d, want 3", n)
	}
	// With nothing announced since, a follow-up pull ends without a call.
	if err := a.sync(ctx, goldenKfID); err != nil || len(srv.pulls) != 2 {
		t.Errorf("follow-up pull: %v, %d pulls", err, len(srv.pulls))
	}
}

// The cursor moves only past a page the router took: when dispatching
// fails, the pull fails (the task is retried), the cursor and the pull's
// completion stay as they were, and the next pull reads the same page
// again, so no message is skipped.
func TestCursorSavedOnlyAfterDispatch(t *testing.T) {
	srv, e, a := goldenPull(t)
	ctx := context.Background()
	e.in.failWith(errTest)
	if err := a.sync(ctx, goldenKfID); !errors.Is(err, errTest) {
		t.Fatalf("pull with a failing router = %v, want the router's error", err)
	}
	if n, _ := e.deps.Redis.Exists(ctx, a.keys.sync(goldenKfID, "cursor"), a.keys.sync(goldenKfID, "synced")).Result(); n != 0 {
		t.Fatalf("%d of cursor and synced were saved after a failed dispatch", n)
	}
	e.in.failWith(nil)
	if err := a.sync(ctx, goldenKfID); err != nil {
		t.Fatal(err)
	}
	if len(srv.pulls) != 3 || srv.pulls[1]["cursor"] != nil {
		t.Fatalf("pulls = %v, want the first page read again", srv.pulls)
	}
	if len(e.in.messages()) == 0 {
		t.Fatal("the page read again reached nobody")
	}
	if c, _ := e.deps.Redis.Get(ctx, a.keys.sync(goldenKfID, "cursor")).Result(); c != "golden-cursor-2" {
		t.Errorf("saved cursor %q after the page went through", c)
	}
}

// While one worker pulls a kf account, another waits for its lock and then
// gives up with a retryable error: the cursor has one writer.
func TestSyncHoldsOneLockPerKfAccount(t *testing.T) {
	srv := newGoldenSyncServer(t)
	e := newEnv(t, testAccounts(srv.URL)+"  ", time.Unix(1700000600, 0))
	a := e.ch.accounts["shop"]
	a.cfg.Sync.LockWait = 200 * time.Millisecond
	ctx := context.Background()
	held, err := a.lock(ctx, goldenKfID)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.sync(ctx, goldenKfID); err != errBusy {
		t.Fatalf("sync while locked = %v, want errBusy", err)
	}
	held.release(ctx)
	if err := a.sync(ctx, goldenKfID); err != nil {
		t.Fatalf("sync after release = %v", err)
	}
}

func TestOutboundMsgID(t *testing.T) {
	conv := ConversationID("shop", "wkAJ2GCAAASSm4_FhToWMFea0xAFfd3Q", "wmAJ2GCAAAme1XQRC-NI-q0_ZM9ukoAw")
	seen := map[string]string{}
	for _, entry := range []string{"1700000000000-0", "1700000000000-0.2", "1700000000000-0.3", "1700000000000-1", "18446744073709551615-18446744073709551615.99"} {
		id := OutboundMsgID(conv, entry)
		if !msgIDPattern.MatchString(id) {
			t.Errorf("OutboundMsgID(%q) = %q: not ≤32 bytes of [0-9a-zA-Z_-]", entry, id)
		}
		if prev, dup := seen[id]; dup {
			t.Errorf("%q and %q share msgid %q", prev, entry, id)
		}
		seen[id] = entry
		if again := OutboundMsgID(conv, entry); again != id {
			t.Errorf("not stable: %q then %q", id, again)
		}
	}
	// The same entry id in another conversation gets another msgid.
	other := ConversationID("shop", "wkAJ2GCAAASSm4_FhToWMFea0xAFfd3Q", "wmSomeoneElse")
	if OutboundMsgID(conv, "1700000000000-0") == OutboundMsgID(other, "1700000000000-0") {
		t.Error("two conversations' first entries share a msgid")
	}
	if OutboundMsgID(conv, "") != "" {
		t.Error("an empty entry id must leave the msgid to WeCom")
	}
}

func FuzzOutboundMsgID(f *testing.F) {
	f.Add("wecom_kf:shop:wk/wm", "1700000000000-0.2")
	f.Add("", "ü../\x00")
	f.Fuzz(func(t *testing.T, conv, entry string) {
		id := OutboundMsgID(conv, entry)
		if entry == "" {
			if id != "" {
				t.Fatal("non-empty id for an empty entry")
			}
			return
		}
		if !msgIDPattern.MatchString(id) {
			t.Fatalf("msgid %q", id)
		}
	})
}

func TestParseConversationID(t *testing.T) {
	conv := ConversationID("shop", "wkAJ2GCAAASSm4_FhToWMFea0xAFfd3Q", "wmAJ2GCAAAme1XQRC-NI-q0_ZM9ukoAw")
	acc, kf, user, ok := ParseConversationID(conv)
	if !ok || acc != "shop" || kf != "wkAJ2GCAAASSm4_FhToWMFea0xAFfd3Q" || user != "wmAJ2GCAAAme1XQRC-NI-q0_ZM9ukoAw" {
		t.Fatalf("ParseConversationID(%q) = %q %q %q %v", conv, acc, kf, user, ok)
	}
	for _, bad := range []string{"", "wecom_app:shop:u", "wecom_kf:shop", "wecom_kf:shop:wk", "wecom_kf::wk/u", "wecom_kf:shop:/u"} {
		if _, _, _, ok := ParseConversationID(bad); ok {
			t.Errorf("ParseConversationID(%q) ok", bad)
		}
	}
}

// A page read again (after a failed dispatch) arms its messages again; one
// stamped ahead of kefu's clock was armed from kefu's now, and must not be
// armed from a later now the second time, giving back quota already used.
func TestPageReadAgainKeepsUsedQuota(t *testing.T) {
	// Grants expire by Redis's own clock: the env's starts at the real now.
	e := newEnv(t, testAccounts("http://127.0.0.1:1"), time.Now())
	a := e.ch.accounts["shop"]
	ctx := context.Background()
	m := message.Message{ID: "kfmsg-ahead", Kind: message.KindText, Text: "你好", From: message.Party{ID: "wmAhead"},
		Timestamp: e.clock.Now().Add(3 * time.Second), Meta: map[string]string{wxmsg.MetaOpenKfID: goldenKfID}}
	if err := a.armWindows(ctx, []message.Message{m}); err != nil {
		t.Fatal(err)
	}
	key := a.windowKey(goldenKfID, "wmAhead")
	for range 3 {
		if _, err := a.windows.Take(ctx, key); err != nil {
			t.Fatal(err)
		}
	}
	e.clock.Advance(time.Second)
	if err := a.armWindows(ctx, []message.Message{m}); err != nil {
		t.Fatal(err)
	}
	if w, err := a.windows.Peek(ctx, key); err != nil || w.Remaining != 2 {
		t.Fatalf("window after the page, three sends and the page again = %+v, %v; want 2 left", w, err)
	}
}

// A page whose items are not oldest first is handled in send order: each
// customer's turns come oldest first, and their window and last kf account
// are those of their newest message. sync_msg promises no order.
func TestPageIsHandledInSendOrder(t *testing.T) {
	e := newEnv(t, testAccounts("http://127.0.0.1:1"), time.Now())
	a := e.ch.accounts["shop"]
	ctx := context.Background()
	now := e.clock.Now()
	const otherKf = "wkOtherKfAccount"
	at := func(id, kf string, ago time.Duration) message.Message {
		return message.Message{ID: id, Kind: message.KindText, Text: "你好", From: message.Party{ID: "wmUnordered"},
			ConversationID: ConversationID("shop", kf, "wmUnordered"), Timestamp: now.Add(-ago),
			Meta: map[string]string{wxmsg.MetaOpenKfID: kf}}
	}
	page := []message.Message{
		at("newest", goldenKfID, time.Minute),
		at("older", goldenKfID, 2*time.Hour),
		at("oldest-other-kf", otherKf, 3*time.Hour),
	}
	if err := a.dispatch(ctx, page); err != nil {
		t.Fatal(err)
	}
	var golden []string
	for _, m := range e.in.messages() {
		if m.Meta[wxmsg.MetaOpenKfID] == goldenKfID {
			golden = append(golden, m.ID)
		}
	}
	if len(golden) != 2 || golden[0] != "older" || golden[1] != "newest" {
		t.Fatalf("turns %v, want older then newest", golden)
	}
	w, err := a.windows.Peek(ctx, a.windowKey(goldenKfID, "wmUnordered"))
	if err != nil {
		t.Fatal(err)
	}
	if want := page[0].Timestamp.Add(window.KFMessage.Within); w.Closes.UnixMilli() != want.UnixMilli() {
		t.Fatalf("window closes %v; want %v (48 h after the newest message)", w.Closes, want)
	}
	kf, err := e.deps.Redis.Get(ctx, a.keys.lastKf("wmUnordered")).Result()
	if err != nil || kf != goldenKfID {
		t.Fatalf("last kf account = %q, %v; want %q, the newest message's", kf, err, goldenKfID)
	}
}
