package dingtalk_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/kefu-gateway/kefu/adapters/internal/fakeplatform"
	"github.com/kefu-gateway/kefu/internal/testutil/apptest"
	"github.com/kefu-gateway/kefu/internal/testutil/metricstest"
	"github.com/open-dingtalk/dingtalk-stream-sdk-go/payload"
)

// fakeGateway plays DingTalk's stream gateway on loopback: POST
// /v1.0/gateway/connections/open hands out a one-time ticket for its own
// WebSocket endpoint, GET /connect upgrades; every other path is proxied to
// the DingTalk API fake, so one api_base serves the gateway, the OpenAPI and
// the session webhooks.
type fakeGateway struct {
	t   *testing.T
	srv *httptest.Server

	mu        sync.Mutex
	opens     []time.Time
	failOpens int
	tickets   map[string]bool
	seq       int
	conns     chan *gwConn
	lastBody  map[string]any
	// silent makes the next connections ignore the client's pings.
	silent bool
}

// gwConn is the server side of one stream connection.
type gwConn struct {
	ws   *websocket.Conn
	acks chan payload.DataFrameResponse
	wmu  sync.Mutex
}

func newFakeGateway(t *testing.T, upstream string) *fakeGateway {
	g := &fakeGateway{t: t, tickets: map[string]bool{}, conns: make(chan *gwConn, 16)}
	target, _ := url.Parse(upstream)
	proxy := httputil.NewSingleHostReverseProxy(target)
	upgrader := websocket.Upgrader{}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1.0/gateway/connections/open", func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		json.NewDecoder(r.Body).Decode(&body)
		g.mu.Lock()
		g.opens = append(g.opens, time.Now())
		g.lastBody = body
		fail := g.failOpens > 0
		if fail {
			g.failOpens--
		}
		g.seq++
		ticket := "ticket-" + strconv.Itoa(g.seq)
		g.tickets[ticket] = true
		g.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch {
		case fail:
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte(`{"code":"ServiceUnavailable","message":"try later (fake)"}`))
		case body["clientId"] != appKey || body["clientSecret"] != appSecret:
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"code":"InvalidClient","message":"bad credentials (fake)"}`))
		default:
			json.NewEncoder(w).Encode(map[string]string{"endpoint": "ws://" + r.Host + "/connect", "ticket": ticket})
		}
	})
	mux.HandleFunc("GET /connect", func(w http.ResponseWriter, r *http.Request) {
		ticket := r.URL.Query().Get("ticket")
		g.mu.Lock()
		ok := g.tickets[ticket]
		delete(g.tickets, ticket) // single use
		g.mu.Unlock()
		if !ok {
			http.Error(w, "invalid ticket", http.StatusUnauthorized)
			return
		}
		ws, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		c := &gwConn{ws: ws, acks: make(chan payload.DataFrameResponse, 16)}
		g.mu.Lock()
		if g.silent {
			ws.SetPingHandler(func(string) error { return nil })
		}
		g.mu.Unlock()
		go func() { // reading also answers the client's pings
			defer close(c.acks)
			for {
				var ack payload.DataFrameResponse
				if err := ws.ReadJSON(&ack); err != nil {
					return
				}
				c.acks <- ack
			}
		}()
		g.conns <- c
	})
	mux.Handle("/", proxy)
	g.srv = httptest.NewServer(mux)
	t.Cleanup(g.srv.Close)
	return g
}

func (g *fakeGateway) next(t *testing.T) *gwConn {
	t.Helper()
	select {
	case c := <-g.conns:
		t.Cleanup(func() { c.ws.Close() })
		return c
	case <-time.After(10 * time.Second):
		t.Fatal("kefu did not connect to the stream gateway")
		return nil
	}
}

func (g *fakeGateway) openTimes() []time.Time {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]time.Time(nil), g.opens...)
}

// send writes a frame and returns the ack for its messageId.
func (c *gwConn) send(t *testing.T, typ, topic, messageID, data string) payload.DataFrameResponse {
	t.Helper()
	df := payload.DataFrame{SpecVersion: "1.0", Type: typ, Time: time.Now().UnixMilli(), Data: data,
		Headers: payload.DataFrameHeader{"topic": topic, "messageId": messageID, "contentType": "application/json", "time": strconv.FormatInt(time.Now().UnixMilli(), 10)}}
	c.wmu.Lock()
	err := c.ws.WriteJSON(df)
	c.wmu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	return c.ack(t, messageID)
}

func (c *gwConn) ack(t *testing.T, messageID string) payload.DataFrameResponse {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case a, ok := <-c.acks:
			if !ok {
				t.Fatal("connection closed before the ack")
			}
			if a.Headers["messageId"] == messageID {
				return a
			}
		case <-timeout:
			t.Fatalf("no ack for %s", messageID)
		}
	}
}

func streamConfig(gatewayURL, stream string) string {
	return dingConfig(gatewayURL, "") + "      mode: stream\n      stream: " + stream + "\n"
}

// Stream mode end to end: kefu opens the connection through api_base, acks
// a robot message at once, answers it through the sessionWebhook like HTTP
// mode (the same normalization: group @mention stripped), answers pings, and
// reports the connection in its metrics.
func TestStreamModeEndToEnd(t *testing.T) {
	t.Parallel()
	fake := fakeplatform.NewDingTalk(t)
	fake.AddApp(appKey, appSecret)
	gw := newFakeGateway(t, fake.URL())
	srv := apptest.Start(t, streamConfig(gw.srv.URL, "{ ping_interval: 5s }"), apptest.Options{})
	conn := gw.next(t)
	gw.mu.Lock()
	subs, _ := json.Marshal(gw.lastBody["subscriptions"])
	ua, _ := gw.lastBody["ua"].(string)
	gw.mu.Unlock()
	if !strings.Contains(string(subs), payload.BotMessageCallbackTopic) || !strings.Contains(ua, "dingtalk-sdk-go/v0.9.1") {
		t.Errorf("gateway request: subscriptions %s, ua %q", subs, ua)
	}
	eventually(t, 5*time.Second, "the connected gauge", func() bool {
		return metricstest.Sum(t, srv.App.Metrics.Registry, "kefu_dingtalk_stream_connected", "robot") == 1
	})

	w := &dworld{t: t, fake: fake, srv: srv}
	body := w.message(fakeplatform.DingTalkMessage{MsgID: "s-1", Text: "你好"})
	start := time.Now()
	ack := conn.send(t, "CALLBACK", payload.BotMessageCallbackTopic, "frame-1", string(body))
	if ack.Code != 200 || ack.Headers["contentType"] != "application/json" {
		t.Fatalf("ack %+v", ack)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("ack after %s", d)
	}
	eventually(t, 10*time.Second, "the webhook reply", func() bool { return len(fake.Calls("/robot/sendBySession")) == 1 })
	if r := fake.Calls("/robot/sendBySession")[0]; !strings.HasPrefix(textOf(r), greeting) {
		t.Fatalf("reply %s", r.Body)
	}
	// The same message delivered again (events may repeat) is acked, not answered.
	conn.send(t, "CALLBACK", payload.BotMessageCallbackTopic, "frame-2", string(body))
	group := w.message(fakeplatform.DingTalkMessage{MsgID: "s-2", Text: "营业时间", ConversationType: "2", ConversationID: "cidGroup0002"})
	conn.send(t, "CALLBACK", payload.BotMessageCallbackTopic, "frame-3", string(group))
	eventually(t, 10*time.Second, "the group reply", func() bool { return len(fake.Calls("/robot/sendBySession")) == 2 })
	if r := fake.Calls("/robot/sendBySession")[1]; !strings.Contains(textOf(r), "小店客服时间") {
		t.Fatalf("group reply %s", r.Body)
	}

	// SYSTEM ping is answered with its data; junk does not break the connection.
	pong := conn.send(t, "SYSTEM", "ping", "ping-1", `{"opaque":"abc"}`)
	if pong.Code != 200 || pong.Data != `{"opaque":"abc"}` {
		t.Errorf("pong %+v", pong)
	}
	conn.wmu.Lock()
	conn.ws.WriteMessage(websocket.TextMessage, []byte("not json"))
	conn.wmu.Unlock()
	if bad := conn.send(t, "CALLBACK", payload.BotMessageCallbackTopic, "frame-4", `{"msgtype":"text"}`); bad.Code != 500 {
		t.Errorf("malformed robot message ack %+v, want 500", bad)
	}
	if other := conn.send(t, "EVENT", "chat_update_title", "frame-5", `{}`); other.Code != 404 {
		t.Errorf("unsubscribed topic ack %+v, want 404", other)
	}
	time.Sleep(300 * time.Millisecond)
	if n := len(fake.Calls("/robot/sendBySession")); n != 2 {
		t.Errorf("%d replies, want 2", n)
	}
	if n := len(gw.openTimes()); n != 1 {
		t.Errorf("%d connections, want 1", n)
	}
}

// A dropped connection is reopened, and failing attempts back off: each
// delay is at least half of reconnect_min·2^n. The connected gauge shows
// the outage and the reconnect counter counts it.
func TestStreamReconnectsWithBackoff(t *testing.T) {
	t.Parallel()
	fake := fakeplatform.NewDingTalk(t)
	fake.AddApp(appKey, appSecret)
	gw := newFakeGateway(t, fake.URL())
	srv := apptest.Start(t, streamConfig(gw.srv.URL, "{ reconnect_min: 100ms, reconnect_max: 1600ms, ping_interval: 5s }"), apptest.Options{})
	conn := gw.next(t)
	eventually(t, 5*time.Second, "connected", func() bool {
		return metricstest.Sum(t, srv.App.Metrics.Registry, "kefu_dingtalk_stream_connected", "robot") == 1
	})

	gw.mu.Lock()
	gw.failOpens = 3
	gw.mu.Unlock()
	dropped := time.Now()
	conn.ws.UnderlyingConn().Close() // the network goes away
	eventually(t, 5*time.Second, "the gauge to fall", func() bool {
		return metricstest.Sum(t, srv.App.Metrics.Registry, "kefu_dingtalk_stream_connected", "robot") == 0
	})
	conn2 := gw.next(t)
	eventually(t, 5*time.Second, "reconnected", func() bool {
		return metricstest.Sum(t, srv.App.Metrics.Registry, "kefu_dingtalk_stream_connected", "robot") == 1
	})

	opens := gw.openTimes()
	if len(opens) != 5 { // first connection, 3 refused, 1 accepted
		t.Fatalf("%d gateway calls, want 5", len(opens))
	}
	prev := dropped
	for i, at := range opens[1:] {
		min := time.Duration(100<<i) * time.Millisecond / 2
		if gap := at.Sub(prev); gap < min {
			t.Errorf("attempt %d came %s after the previous, want ≥ %s", i+1, gap, min)
		}
		prev = at
	}
	if total := opens[4].Sub(dropped); total > 5*time.Second {
		t.Errorf("reconnecting took %s", total)
	}
	if n := metricstest.Sum(t, srv.App.Metrics.Registry, "kefu_dingtalk_stream_reconnects_total", "robot"); n != 4 {
		t.Errorf("reconnects = %v, want 4 (the drop and 3 refused attempts)", n)
	}

	// The new connection works.
	w := &dworld{t: t, fake: fake, srv: srv}
	conn2.send(t, "CALLBACK", payload.BotMessageCallbackTopic, "after", string(w.message(fakeplatform.DingTalkMessage{MsgID: "r-1", Text: "你好"})))
	eventually(t, 10*time.Second, "the reply", func() bool { return len(fake.Calls("/robot/sendBySession")) == 1 })

	// A server that asks to reconnect is followed at once, with no penalty.
	asked := time.Now()
	conn2.send(t, "SYSTEM", "disconnect", "bye", `{"reason":"upgrade"}`)
	gw.next(t)
	if d := time.Since(asked); d > time.Second {
		t.Errorf("reconnect after a disconnect request took %s", d)
	}
}

// A connection that goes silent (no frames, no pongs) is dropped after
// ping_interval + pong_timeout and reopened.
func TestStreamDetectsDeadConnection(t *testing.T) {
	t.Parallel()
	fake := fakeplatform.NewDingTalk(t)
	fake.AddApp(appKey, appSecret)
	gw := newFakeGateway(t, fake.URL())
	gw.silent = true // the server never answers pings
	srv := apptest.Start(t, streamConfig(gw.srv.URL, "{ reconnect_min: 50ms, ping_interval: 200ms, pong_timeout: 200ms }"), apptest.Options{})
	gw.next(t)
	start := time.Now()
	gw.next(t)
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("a silent connection was replaced after %s", d)
	}
	if n := metricstest.Sum(t, srv.App.Metrics.Registry, "kefu_dingtalk_stream_reconnects_total", "robot"); n < 1 {
		t.Errorf("reconnects = %v", n)
	}
}
