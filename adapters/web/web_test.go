package web_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/kefu-gateway/kefu/adapters"
	"github.com/kefu-gateway/kefu/internal/testutil/apptest"
	"gopkg.in/yaml.v3"
)

const greeting = "您好！我是小店的智能客服"

func testConfig(extraSite string) string {
	return fmt.Sprintf(`
flows: { dir: %s/configs/flows }
log: { level: debug }
channels:
  web:
    - id: shop
      token_secret: "a-test-secret-that-must-never-be-logged"
      allowed_origins: [https://shop.example.com]
      rate_limit: { messages: 50, per: 10s }
      max_frame_bytes: 1024
%s`, apptest.RepoRoot(), extraSite)
}

func TestHTTPChatEndToEnd(t *testing.T) {
	srv := apptest.Start(t, testConfig(""), apptest.Options{})
	c := newClient(t, srv.URL, "shop")

	res := c.say("你好")
	if len(res.Replies) != 1 || !strings.Contains(res.Replies[0].Text, greeting) {
		t.Fatalf("replies to 你好 = %+v, want the greeting", res.Replies)
	}
	r := res.Replies[0]
	if r.From != "bot" || r.Type != "text" || r.ID == "" || r.Name == "" {
		t.Errorf("reply fields: %+v", r)
	}
	if _, err := time.Parse(time.RFC3339, r.TS); err != nil {
		t.Errorf("ts %q is not RFC 3339: %v", r.TS, err)
	}

	hist := c.history("", 0)
	if len(hist) != 2 || hist[0].From != "visitor" || hist[0].Text != "你好" || hist[1].ID != r.ID {
		t.Fatalf("history = %+v, want the visitor's 你好 then the reply", hist)
	}
	if after := c.history(r.ID, 0); len(after) != 0 {
		t.Errorf("history after the last id = %+v, want nothing", after)
	}

	// Something no flow knows gets the fallback offering a human, not silence.
	res = c.say("量子纠缠是什么")
	if len(res.Replies) != 1 || !strings.Contains(res.Replies[0].Text, "人工") {
		t.Errorf("fallback reply = %+v", res.Replies)
	}
}

func TestWebSocketChatEndToEnd(t *testing.T) {
	srv := apptest.Start(t, testConfig(""), apptest.Options{})
	c := newClient(t, srv.URL, "shop")
	ws, _, err := c.dial(srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	if err := ws.WriteJSON(map[string]string{"type": "text", "text": "hello", "id": "m1"}); err != nil {
		t.Fatal(err)
	}
	echo := readUntil(t, ws, 5*time.Second, func(f wsFrame) bool { return f.Type == "message" && f.Message.From == "visitor" })
	if echo.Message.ClientID != "m1" || echo.Message.Text != "hello" {
		t.Errorf("echo of own message = %+v", echo.Message)
	}
	readUntil(t, ws, 5*time.Second, botSays(greeting))

	// A reconnecting client resumes after the last id it saw.
	ws.Close()
	c.say("hi")
	u := "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws/web/shop?token=" + c.token + "&after=" + echo.Message.ID
	ws2, _, err := websocket.DefaultDialer.Dial(u, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws2.Close()
	var texts []string
	for len(texts) < 3 {
		f := readUntil(t, ws2, 5*time.Second, func(f wsFrame) bool { return f.Type == "message" })
		texts = append(texts, f.Message.From+":"+f.Message.Text)
	}
	if !strings.HasPrefix(texts[0], "bot:"+greeting) || texts[1] != "visitor:hi" || !strings.HasPrefix(texts[2], "bot:"+greeting) {
		t.Errorf("backlog after reconnect = %q", texts)
	}
}

// Replies produced in one kefu process reach a visitor whose WebSocket is
// held by another process sharing the Redis.
func TestTwoServersShareOneRedis(t *testing.T) {
	a := apptest.Start(t, testConfig(""), apptest.Options{})
	b := apptest.Start(t, testConfig(""), apptest.Options{DB: a.DB})
	c := newClient(t, a.URL, "shop")
	ws, _, err := c.dial(a.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	// Post through the other server with the same token.
	cb := *c
	cb.base = b.URL
	res := cb.say("你好")
	if len(res.Replies) != 1 {
		t.Fatalf("replies via b = %+v", res.Replies)
	}
	got := readUntil(t, ws, 5*time.Second, botSays(greeting))
	if got.Message.ID != res.Replies[0].ID {
		t.Errorf("websocket on a got %s, b answered %s", got.Message.ID, res.Replies[0].ID)
	}
}

func TestRetriedMessageIsProcessedOnce(t *testing.T) {
	srv := apptest.Start(t, testConfig(""), apptest.Options{})
	c := newClient(t, srv.URL, "shop")
	body := `{"type":"text","text":"你好","id":"retry-1"}`
	var wg sync.WaitGroup
	results := make([]postResult, 5)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.do("POST", "/messages", body, "", &results[i])
		}()
	}
	wg.Wait()
	answered := 0
	for _, r := range results {
		if !r.Duplicate {
			answered++
			if len(r.Replies) != 1 {
				t.Errorf("first delivery replies = %+v", r.Replies)
			}
		}
	}
	if answered != 1 {
		t.Fatalf("%d of 5 identical posts were processed, want 1", answered)
	}
	if h := c.history("", 0); len(h) != 2 {
		t.Fatalf("transcript has %d entries, want 2 (one message, one reply): %+v", len(h), h)
	}
	// The same client id from another visitor is a different message.
	other := newClient(t, srv.URL, "shop")
	var r postResult
	other.do("POST", "/messages", body, "", &r)
	if r.Duplicate || len(r.Replies) != 1 {
		t.Errorf("another visitor's message with the same client id: %+v", r)
	}
}

func TestLongPollReturnsNewMessages(t *testing.T) {
	srv := apptest.Start(t, testConfig(""), apptest.Options{})
	c := newClient(t, srv.URL, "shop")
	first := c.say("你好")
	start := time.Now()
	pollWhileSaying(t, c, first.Replies[0].ID, "hi")
	if time.Since(start) > 8*time.Second {
		t.Errorf("long-poll waited for its timeout instead of returning on the new message")
	}
}

// pollWhileSaying long-polls the conversation after `after` (10 s), says
// text while the poll waits, and fails unless the poll returns something.
func pollWhileSaying(t *testing.T, c *client, after, text string) {
	t.Helper()
	got := make(chan int, 1)
	go func() { got <- len(c.history(after, 10)) }()
	time.Sleep(300 * time.Millisecond)
	c.say(text)
	select {
	case n := <-got:
		if n < 1 {
			t.Fatalf("long-poll returned %d messages", n)
		}
	case <-time.After(12 * time.Second):
		t.Fatal("long-poll never returned")
	}
}

// A visitor with no messages yet long-polls too: without an id to go after,
// an empty conversation is waited on, not answered at once (the widget
// polls so while its WebSocket is down), and the first message ends the
// wait.
func TestLongPollWaitsOnAnEmptyConversation(t *testing.T) {
	srv := apptest.Start(t, testConfig(""), apptest.Options{})
	c := newClient(t, srv.URL, "shop")
	start := time.Now()
	if got := c.history("", 1); len(got) != 0 {
		t.Fatalf("an empty conversation returned %d messages", len(got))
	}
	if waited := time.Since(start); waited < 900*time.Millisecond {
		t.Fatalf("long-poll on an empty conversation returned after %v, want its 1 s wait", waited)
	}
	pollWhileSaying(t, c, "", "你好")
}

func TestBadInputIsRefusedAndNothingBreaks(t *testing.T) {
	srv := apptest.Start(t, testConfig(""), apptest.Options{})
	c := newClient(t, srv.URL, "shop")
	auth := map[string]string{"Authorization": "Bearer " + c.token, "Content-Type": "application/json"}
	forged := strings.Split(c.token, ".")[0] + ".AAAA" + strings.Split(c.token, ".")[1][4:]

	cases := []struct {
		name    string
		path    string
		body    []byte
		headers map[string]string
		want    int
	}{
		{"unknown site session", "/api/web/nope/sessions", []byte(`{}`), nil, 404},
		{"unknown site message", "/api/web/nope/messages", []byte(`{"type":"text","text":"x"}`), auth, 404},
		{"no token", "/api/web/shop/messages", []byte(`{"type":"text","text":"x"}`), nil, 401},
		{"forged token", "/api/web/shop/messages", []byte(`{"type":"text","text":"x"}`), map[string]string{"Authorization": "Bearer " + forged}, 401},
		{"garbage token", "/api/web/shop/messages", []byte(`{"type":"text","text":"x"}`), map[string]string{"Authorization": "Bearer ..."}, 401},
		{"malformed JSON", "/api/web/shop/messages", []byte(`{"type":`), auth, 400},
		{"malformed session JSON", "/api/web/shop/sessions", []byte(`[1,2`), nil, 400},
		{"bad visitor id", "/api/web/shop/sessions", []byte(`{"visitor_id":"<script>"}`), nil, 400},
		{"wrong type", "/api/web/shop/messages", []byte(`{"type":"image","text":"x"}`), auth, 400},
		{"empty text", "/api/web/shop/messages", []byte(`{"type":"text","text":"   "}`), auth, 400},
		{"text over max", "/api/web/shop/messages", []byte(`{"type":"text","text":"` + strings.Repeat("长", 2000) + `"}`), auth, 413},
		{"disallowed origin", "/api/web/shop/sessions", []byte(`{}`), map[string]string{"Origin": "https://evil.example.com"}, 403},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, body := post(t, srv.URL+tc.path, tc.body, tc.headers)
			if st != tc.want {
				t.Fatalf("status %d (%s), want %d", st, body, tc.want)
			}
			var e struct{ Error string }
			if json.Unmarshal(body, &e) != nil || e.Error == "" {
				t.Errorf("error body %q has no clear error", body)
			}
		})
	}
	// A body over http.body_limit is refused from its Content-Length,
	// before it is read.
	if st := rawStatus(t, srv.Addr, "POST /api/web/shop/messages HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "+c.token+
		"\r\nContent-Type: application/json\r\nContent-Length: 2000000\r\n\r\n{\"type\":\"text\""); st != 413 {
		t.Errorf("body over 1 MiB: %d, want 413", st)
	}

	// A long-poll wait that is not a number of seconds is refused.
	for _, wait := range []string{"-1", "NaN", "soon"} {
		if st := c.do("GET", "/messages?wait="+wait, "", "", nil); st != 400 {
			t.Errorf("GET /messages?wait=%s: %d, want 400", wait, st)
		}
	}

	// A token for one site does not open another.
	srv2 := apptest.Start(t, testConfig(`    - id: other
      token_secret: "a-test-secret-that-must-never-be-logged"`), apptest.Options{})
	c2 := newClient(t, srv2.URL, "shop")
	st, _ := post(t, srv2.URL+"/api/web/other/messages", []byte(`{"type":"text","text":"x"}`), map[string]string{"Authorization": "Bearer " + c2.token})
	if st != 401 {
		t.Errorf("token of site shop used on site other: %d, want 401", st)
	}

	// The process still serves, and no secret or token reached the logs.
	if r := c.say("你好"); len(r.Replies) != 1 {
		t.Fatalf("after bad input the server no longer answers: %+v", r)
	}
	for _, e := range srv.Logs.All() {
		line := e.Message + fmt.Sprint(e.ContextMap())
		for _, secret := range []string{"a-test-secret-that-must-never-be-logged", c.token} {
			if strings.Contains(line, secret) {
				t.Errorf("secret in log line: %s", line)
			}
		}
	}
}

func TestOriginsAndCORS(t *testing.T) {
	srv := apptest.Start(t, testConfig(""), apptest.Options{})
	st, _ := post(t, srv.URL+"/api/web/shop/sessions", []byte(`{}`), map[string]string{"Origin": "https://shop.example.com"})
	if st != 200 {
		t.Errorf("allowed origin: %d", st)
	}
	req, _ := http.NewRequest("OPTIONS", srv.URL+"/api/web/shop/messages", nil)
	req.Header.Set("Origin", "https://shop.example.com")
	req.Header.Set("Access-Control-Request-Method", "POST")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.Header.Get("Access-Control-Allow-Origin") != "https://shop.example.com" || res.StatusCode >= 300 {
		t.Errorf("preflight: %d, allow-origin %q", res.StatusCode, res.Header.Get("Access-Control-Allow-Origin"))
	}
	c := newClient(t, srv.URL, "shop")
	_, resp, err := c.dial(srv.URL, http.Header{"Origin": {"https://evil.example.com"}})
	if err == nil || resp == nil || resp.StatusCode != 403 {
		t.Errorf("websocket from a disallowed origin: err=%v resp=%v", err, resp)
	}
	c.token = "forged"
	_, resp, err = c.dial(srv.URL, nil)
	if err == nil || resp == nil || resp.StatusCode != 401 {
		t.Errorf("websocket with a forged token: err=%v resp=%v", err, resp)
	}
	c.site = "nope"
	_, resp, err = c.dial(srv.URL, nil)
	if err == nil || resp == nil || resp.StatusCode != 404 {
		t.Errorf("websocket to an unknown site: err=%v resp=%v", err, resp)
	}
}

func TestWebSocketFrameOverLimitClosesOnlyThatSocket(t *testing.T) {
	srv := apptest.Start(t, testConfig(""), apptest.Options{})
	c := newClient(t, srv.URL, "shop")
	good, _, err := c.dial(srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer good.Close()
	bad, _, err := c.dial(srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	_ = bad.WriteMessage(websocket.TextMessage, []byte(`{"type":"text","text":"`+strings.Repeat("x", 4096)+`"}`))
	_ = bad.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		_, _, err := bad.ReadMessage()
		if err == nil {
			continue
		}
		if !websocket.IsCloseError(err, websocket.CloseMessageTooBig) {
			t.Errorf("oversized frame: got %v, want close 1009", err)
		}
		break
	}
	if err := good.WriteJSON(map[string]string{"type": "text", "text": "你好"}); err != nil {
		t.Fatal(err)
	}
	readUntil(t, good, 5*time.Second, botSays(greeting))
}

func TestRateLimitPerVisitor(t *testing.T) {
	srv := apptest.Start(t, fmt.Sprintf(`
flows: { dir: %s/configs/flows }
channels:
  web:
    - id: shop
      rate_limit: { messages: 3, per: 1m }
`, apptest.RepoRoot()), apptest.Options{})
	c := newClient(t, srv.URL, "shop")
	for i := 0; i < 3; i++ {
		c.say("hi")
	}
	st, body := post(t, srv.URL+"/api/web/shop/messages", []byte(`{"type":"text","text":"hi"}`),
		map[string]string{"Authorization": "Bearer " + c.token})
	if st != 429 {
		t.Fatalf("4th message in a minute: %d %s, want 429", st, body)
	}
	// Another visitor is not limited by the first.
	newClient(t, srv.URL, "shop").say("hi")
}

func TestSessionResumesVisitorHistory(t *testing.T) {
	srv := apptest.Start(t, testConfig(""), apptest.Options{})
	c := newClient(t, srv.URL, "shop")
	c.say("你好")
	again := &client{t: t, base: srv.URL, site: "shop"}
	var out sessionOut
	if st := again.do("POST", "/sessions", `{"visitor_id":"`+c.visitor+`","name":"王小明"}`, "", &out); st != 200 || out.VisitorID != c.visitor {
		t.Fatalf("resume: %d %+v", st, out)
	}
	again.token = out.Token
	if h := again.history("", 0); len(h) != 2 {
		t.Errorf("resumed visitor sees %d entries, want 2", len(h))
	}
}

// The first site's title heads the demo page and its widget; HTML in it is
// escaped.
func TestDemoPageShowsTheSiteTitle(t *testing.T) {
	srv := apptest.Start(t, "channels:\n  web:\n    - id: s1\n      title: 小店客服中心<b>\n      color: \"#1a7f37\"\n", apptest.Options{})
	res, err := http.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	page := string(b)
	for _, want := range []string{`<h1>小店客服中心&lt;b&gt;</h1>`, `data-site="s1"`, `data-title="小店客服中心&lt;b&gt;"`, `data-color="#1a7f37"`} {
		if !strings.Contains(page, want) {
			t.Errorf("demo page lacks %s:\n%s", want, page)
		}
	}
}

// reply_wait bounds how long POST /messages waits for replies: with 0 it
// waits for none (a reply already made may still come with it), and one not
// in the response comes by GET (or WebSocket). Beyond 30s it is refused.
func TestReplyWaitZero(t *testing.T) {
	srv := apptest.Start(t, testConfig("    - id: nowait\n      reply_wait: 0s\n"), apptest.Options{})
	c := newClient(t, srv.URL, "nowait")
	if r := c.say("你好"); len(r.Replies) > 0 {
		if !strings.HasPrefix(r.Replies[0].Text, greeting) {
			t.Fatalf("POST returned %+v", r.Replies)
		}
	} else {
		found := false
		for deadline := time.Now().Add(10 * time.Second); !found && time.Now().Before(deadline); {
			for _, m := range c.history("", 5) {
				found = found || (m.From == "bot" && strings.HasPrefix(m.Text, greeting))
			}
			time.Sleep(50 * time.Millisecond)
		}
		if !found {
			t.Fatal("the reply never reached the conversation")
		}
	}
	var node yaml.Node
	if err := yaml.Unmarshal([]byte("- { id: slow, reply_wait: 31s }"), &node); err != nil {
		t.Fatal(err)
	}
	err := adapters.Validate("kefu.yaml", map[string]*yaml.Node{"web": node.Content[0]})
	if err == nil || !strings.Contains(err.Error(), "reply_wait: must be between 0 and 30s") {
		t.Fatalf("reply_wait 31s: %v", err)
	}
}
