package web_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/kefu-gateway/kefu/adapters/web"
)

// client is a web visitor talking to a kefu under test.
type client struct {
	t       testing.TB
	base    string
	site    string
	visitor string
	token   string
}

func newClient(t testing.TB, base, site string) *client {
	c := &client{t: t, base: base, site: site}
	var out sessionOut
	status := c.do("POST", "/sessions", `{}`, "", &out)
	if status != 200 {
		t.Fatalf("creating session: status %d", status)
	}
	c.visitor = out.VisitorID
	c.token = out.Token
	if c.visitor == "" || c.token == "" {
		t.Fatalf("session without visitor_id or token: %+v", out)
	}
	return c
}

func (c *client) do(method, path, body, origin string, out any) int {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+"/api/web/"+c.site+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if out != nil && len(b) > 0 && res.StatusCode < 300 {
		if err := json.Unmarshal(b, out); err != nil {
			c.t.Fatalf("%s %s: decoding %q: %v", method, path, b, err)
		}
	}
	return res.StatusCode
}

type sessionOut struct {
	VisitorID string `json:"visitor_id"`
	Token     string `json:"token"`
}

type postResult struct {
	Replies   []web.Msg `json:"replies"`
	Duplicate bool      `json:"duplicate"`
}

func (c *client) say(text string) postResult {
	c.t.Helper()
	var out postResult
	body, _ := json.Marshal(map[string]string{"type": "text", "text": text})
	if st := c.do("POST", "/messages", string(body), "", &out); st != 200 {
		c.t.Fatalf("posting %q: status %d", text, st)
	}
	return out
}

func (c *client) history(after string, wait int) []web.Msg {
	c.t.Helper()
	var out struct{ Messages []web.Msg }
	q := "?wait=" + itoa(wait)
	if after != "" {
		q += "&after=" + after
	}
	if st := c.do("GET", "/messages"+q, "", "", &out); st != 200 {
		c.t.Fatalf("history: status %d", st)
	}
	return out.Messages
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

func (c *client) dial(base string, header http.Header) (*websocket.Conn, *http.Response, error) {
	u := "ws" + strings.TrimPrefix(base, "http") + "/ws/web/" + c.site + "?token=" + c.token
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	return d.Dial(u, header)
}

type wsFrame struct {
	Type    string   `json:"type"`
	Message *web.Msg `json:"message"`
	Error   string   `json:"error"`
}

// readUntil reads frames until one satisfies ok, or fails after d.
func readUntil(t testing.TB, ws *websocket.Conn, d time.Duration, ok func(wsFrame) bool) wsFrame {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		_ = ws.SetReadDeadline(deadline)
		var f wsFrame
		_, data, err := ws.ReadMessage()
		if err != nil {
			t.Fatalf("reading websocket: %v", err)
		}
		if err := json.Unmarshal(data, &f); err != nil {
			t.Fatalf("bad frame %q: %v", data, err)
		}
		if ok(f) {
			return f
		}
	}
}

func botSays(contains string) func(wsFrame) bool {
	return func(f wsFrame) bool {
		return f.Type == "message" && f.Message != nil && f.Message.From == "bot" && strings.Contains(f.Message.Text, contains)
	}
}

// rawStatus writes a raw HTTP request and returns the response status.
func rawStatus(t testing.TB, addr, req string) int {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("reading response: %v", err)
	}
	res.Body.Close()
	return res.StatusCode
}

func post(t testing.TB, url string, body []byte, headers map[string]string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}
