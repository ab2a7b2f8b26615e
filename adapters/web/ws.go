package web

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/contrib/websocket"
	"github.com/gofiber/fiber/v2"
	"github.com/kefu-gateway/kefu/adapters/message"
	"github.com/kefu-gateway/kefu/internal/pubsub"
	"go.uber.org/zap"
)

const (
	wsPingEvery  = 30 * time.Second
	wsReadWait   = 75 * time.Second
	wsWriteWait  = 10 * time.Second
	localAfter   = "kefu.after"
	wsErrorLimit = "message too large"
)

// wsUpgrade checks the token (?token=, browsers cannot set headers on a
// WebSocket) before upgrading; the site middleware already checked the origin.
func (ch *Channel) wsUpgrade(c *fiber.Ctx) error {
	if !websocket.IsWebSocketUpgrade(c) {
		return apiError(c, fiber.StatusUpgradeRequired, "websocket upgrade required")
	}
	s := c.Locals(localSite).(*Site)
	secret, err := ch.secretFor(c.UserContext(), s)
	if err != nil {
		return apiError(c, fiber.StatusServiceUnavailable, "temporarily unavailable")
	}
	cl, err := verifyToken(secret, c.Query("token"), s.cfg.ID, s.cfg.TokenTTL, ch.deps.Clock.Now())
	if err != nil {
		return apiError(c, fiber.StatusUnauthorized, err.Error())
	}
	after := c.Query("after")
	if after != "" && !validEntryID(after) {
		return apiError(c, fiber.StatusBadRequest, "after must be a message id")
	}
	if after == "" {
		// The client wants what comes from now on. Note where "now" is
		// before answering the handshake: anything the client sends once
		// connected, over this socket or the HTTP API of any process, and
		// its reply, comes after the mark.
		newest, err := ch.deps.Transcripts.After(c.UserContext(), conversationID(s.cfg.ID, cl.Visitor), "", 1)
		if err != nil {
			return apiError(c, fiber.StatusServiceUnavailable, "temporarily unavailable")
		}
		after = "0-0"
		if len(newest) == 1 {
			after = newest[0].ID
		}
	}
	c.Locals(localClaims, cl)
	c.Locals(localAfter, after)
	return c.Next()
}

func (ch *Channel) wsHandler() fiber.Handler {
	return websocket.New(ch.serveWS, websocket.Config{ReadBufferSize: 4096, WriteBufferSize: 4096})
}

type wsIn struct {
	Type string `json:"type"`
	Text string `json:"text"`
	ID   string `json:"id"`
}

type wsOut struct {
	Type    string          `json:"type"`
	Message *Msg            `json:"message,omitempty"`
	Data    json.RawMessage `json:"data,omitempty"`
	Error   string          `json:"error,omitempty"`
}

// wsConn serializes writes to one socket.
type wsConn struct {
	c  *websocket.Conn
	mu sync.Mutex
}

func (w *wsConn) send(v any) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	_ = w.c.SetWriteDeadline(time.Now().Add(wsWriteWait))
	return w.c.WriteJSON(v)
}

func (w *wsConn) ping() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.c.WriteControl(websocket.PingMessage, nil, time.Now().Add(wsWriteWait))
}

func (w *wsConn) closeWith(code int, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	_ = w.c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, text), time.Now().Add(time.Second))
}

// serveWS pushes the conversation's new entries to the socket and accepts
// the visitor's messages from it. A frame over max_frame_bytes closes this
// socket (1009) and nothing else.
func (ch *Channel) serveWS(conn *websocket.Conn) {
	s := conn.Locals(localSite).(*Site)
	cl := conn.Locals(localClaims).(claims)
	after, _ := conn.Locals(localAfter).(string)
	conv := conversationID(s.cfg.ID, cl.Visitor)
	w := &wsConn{c: conn}
	conn.SetReadLimit(int64(s.cfg.MaxFrameBytes))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pushDone := make(chan struct{})
	go func() {
		defer close(pushDone)
		defer func() { _ = conn.Close() }()
		ch.push(ctx, w, conv, after)
	}()
	go func() {
		t := time.NewTicker(wsPingEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if w.ping() != nil {
					return
				}
			}
		}
	}()

	_ = conn.SetReadDeadline(time.Now().Add(wsReadWait))
	conn.SetPongHandler(func(string) error { return conn.SetReadDeadline(time.Now().Add(wsReadWait)) })
	for {
		_, data, err := conn.ReadMessage()
		if err != nil {
			if errors.Is(err, websocket.ErrReadLimit) {
				w.closeWith(websocket.CloseMessageTooBig, wsErrorLimit)
			}
			break
		}
		_ = conn.SetReadDeadline(time.Now().Add(wsReadWait))
		ch.wsReceive(ctx, w, s, cl, data)
	}
	cancel()
	<-pushDone
}

func (ch *Channel) wsReceive(ctx context.Context, w *wsConn, s *Site, cl claims, data []byte) {
	var in wsIn
	if err := json.Unmarshal(data, &in); err != nil {
		_ = w.send(wsOut{Type: "error", Error: "malformed JSON"})
		return
	}
	if in.Type == "ping" {
		_ = w.send(wsOut{Type: "pong"})
		return
	}
	req := postRequest{Type: in.Type, Text: in.Text, ID: in.ID}
	if status, msg := s.validate(&req); status != 0 {
		_ = w.send(wsOut{Type: "error", Error: msg})
		return
	}
	ok, err := ch.allow(ctx, s, cl.Visitor)
	if err != nil {
		_ = w.send(wsOut{Type: "error", Error: "temporarily unavailable"})
		return
	}
	if !ok {
		_ = w.send(wsOut{Type: "error", Error: "too many messages; slow down"})
		return
	}
	// Replies reach this socket through the conversation's pub/sub channel,
	// like replies produced by any other process.
	if _, err := ch.deps.Inbound.Accept(ctx, ch.inbound(s, cl, req)); err != nil {
		ch.log().Error("accepting web message failed", zap.Error(err))
		_ = w.send(wsOut{Type: "error", Error: "temporarily unavailable"})
	}
}

// push sends entries after `after`, then every new one, until ctx ends or
// the hub closes. If the listener falls behind it catches up from the
// transcript and listens again.
func (ch *Channel) push(ctx context.Context, w *wsConn, conv, after string) {
	// after is never empty here (wsUpgrade marks "now"): subscribe first,
	// then catch up from the mark, so nothing committed in between is lost.
	last := after
	for ctx.Err() == nil {
		l, err := ch.deps.Hub.Subscribe(ctx, conv)
		if err != nil {
			return
		}
		if last != "" {
			backlog, err := ch.deps.Transcripts.After(ctx, conv, last, historyLimit)
			if err != nil {
				l.Close()
				return
			}
			for i := range backlog {
				if err := ch.pushEntry(w, &backlog[i], &last); err != nil {
					l.Close()
					return
				}
			}
		}
		if !ch.relay(ctx, w, l, &last) {
			return
		}
	}
}

// relay forwards events until the listener closes; it returns true when
// the listener lagged and should be replaced.
func (ch *Channel) relay(ctx context.Context, w *wsConn, l *pubsub.Listener, last *string) bool {
	defer l.Close()
	for {
		select {
		case <-ctx.Done():
			return false
		case ev, ok := <-l.C:
			if !ok {
				return errors.Is(l.Err(), pubsub.ErrLagged)
			}
			switch ev.Kind {
			case pubsub.KindEntry:
				var m message.Message
				if json.Unmarshal(ev.Data, &m) != nil {
					continue
				}
				m.ID = ev.ID
				if err := ch.pushEntry(w, &m, last); err != nil {
					return false
				}
			case pubsub.KindStream:
				if err := w.send(wsOut{Type: "stream", Data: ev.Data}); err != nil {
					return false
				}
			}
		}
	}
}

func (ch *Channel) pushEntry(w *wsConn, m *message.Message, last *string) error {
	if *last != "" && !entryAfter(m.ID, *last) {
		return nil
	}
	*last = m.ID
	if !visible(m) {
		return nil
	}
	msg := toMsg(m)
	return w.send(wsOut{Type: "message", Message: &msg})
}

// entryAfter reports whether stream entry id a comes after b.
func entryAfter(a, b string) bool {
	am, as := splitEntryID(a)
	bm, bs := splitEntryID(b)
	if am != bm {
		return am > bm
	}
	return as > bs
}

func splitEntryID(id string) (uint64, uint64) {
	ms, seq, _ := strings.Cut(id, "-")
	m, _ := strconv.ParseUint(ms, 10, 64)
	s, _ := strconv.ParseUint(seq, 10, 64)
	return m, s
}
