package dingtalk

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/kefu-gateway/kefu/adapters/internal/apiclient"
	"github.com/kefu-gateway/kefu/adapters/internal/dingmsg"
	"github.com/open-dingtalk/dingtalk-stream-sdk-go/client"
	"github.com/open-dingtalk/dingtalk-stream-sdk-go/payload"
	"github.com/open-dingtalk/dingtalk-stream-sdk-go/utils"
	"go.uber.org/zap"
)

// Stream mode (PROTOCOLS.md §4.2) speaks the protocol of the official SDK,
// github.com/open-dingtalk/dingtalk-stream-sdk-go v0.9.1, with its types:
// the gateway request and answer (payload.ConnectionEndpointRequest and
// Response, posted to utils.GetConnectionEndpointAPIUrl), the frames
// (payload.DataFrame) and their acks (payload.DataFrameResponse,
// NewDataFrameAckPong), the robot topic (payload.BotMessageCallbackTopic).
//
// The connection itself is kefu's, not the SDK's StreamClient, because in
// v0.9.1 StreamClient reads and clears its connection from several
// goroutines without a lock (a data race), reconnects every 3 s with no
// backoff, gives no signal when a connection drops unless it reconnects by
// itself, posts to the gateway through http.DefaultTransport with a fixed
// 5 s timeout, and logs the gateway request — with the client secret — at
// debug level. Here the gateway call goes through the account's api_base
// with its timeout, one goroutine reads, writes are serialized, a silent
// connection is detected by ping/pong, and reconnects back off with jitter.

// streamUserAgent names kefu and the SDK whose protocol it speaks.
var streamUserAgent = "kefu " + client.NewDingtalkGoSDKUserAgent().UserAgent

// errServerDisconnect is a SYSTEM disconnect frame: the server closes the
// connection 10 s later, so kefu reconnects at once.
var errServerDisconnect = errors.New("dingtalk stream server asked to reconnect")

// maxFrameBytes bounds one frame read from the stream.
const maxFrameBytes = 1 << 20

// runStream keeps the account's stream connection open until ctx ends,
// reconnecting with exponential backoff and jitter.
func (a *Account) runStream(ctx context.Context) {
	log := a.ch.deps.Log.With(zap.String("account", a.cfg.ID))
	a.ch.metrics.setConnected(a.cfg.ID, false)
	attempt := 0
	for {
		up, err := a.connectOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		if up >= a.cfg.Stream.ReconnectMax {
			attempt = 0 // a connection that held up starts the backoff over
		}
		delay := backoff(a.cfg.Stream.ReconnectMin, a.cfg.Stream.ReconnectMax, attempt)
		if errors.Is(err, errServerDisconnect) {
			delay = backoff(a.cfg.Stream.ReconnectMin, a.cfg.Stream.ReconnectMax, 0)
		} else {
			attempt++
		}
		a.ch.metrics.reconnect(a.cfg.ID)
		log.Warn("dingtalk stream connection lost; reconnecting", zap.Duration("after", delay), zap.Int("attempt", attempt), zap.Error(err))
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// backoff is min·2^attempt capped at max, with "equal jitter": a random
// duration in [d/2, d], so many processes reconnecting after one outage
// spread out.
func backoff(min, max time.Duration, attempt int) time.Duration {
	d := min
	for i := 0; i < attempt && d < max; i++ {
		d *= 2
	}
	if d > max {
		d = max
	}
	half := d / 2
	return half + time.Duration(rand.Int64N(int64(d-half)+1))
}

// openEndpoint asks the gateway for a WebSocket endpoint and a one-time
// ticket: POST /v1.0/gateway/connections/open (PROTOCOLS.md §4.2).
func (a *Account) openEndpoint(ctx context.Context) (*payload.ConnectionEndpointResponse, error) {
	req := payload.ConnectionEndpointRequest{
		ClientId:     a.cfg.AppKey,
		ClientSecret: a.cfg.AppSecret,
		UserAgent:    streamUserAgent,
		Subscriptions: []*payload.SubscriptionModel{
			{Type: utils.SubscriptionTypeKSystem, Topic: "ping"},
			{Type: utils.SubscriptionTypeKSystem, Topic: "disconnect"},
			{Type: utils.SubscriptionTypeKCallback, Topic: payload.BotMessageCallbackTopic},
		},
	}
	if ip, err := utils.GetFirstLanIP(); err == nil {
		req.LocalIP = ip
	}
	var ep payload.ConnectionEndpointResponse
	if err := a.client.Do(ctx, apiclient.Request{API: "gateway/connections/open", Path: utils.GetConnectionEndpointAPIUrl, Body: req, NoToken: true}, &ep); err != nil {
		return nil, fmt.Errorf("opening dingtalk stream: %w", err)
	}
	if err := ep.Valid(); err != nil {
		return nil, fmt.Errorf("opening dingtalk stream: %w", err)
	}
	return &ep, nil
}

// connectOnce opens one connection and serves it until it ends; it returns
// how long the connection was up and why it ended.
func (a *Account) connectOnce(ctx context.Context) (time.Duration, error) {
	ep, err := a.openEndpoint(ctx)
	if err != nil {
		return 0, err
	}
	target, err := url.Parse(ep.Endpoint)
	if err != nil || (target.Scheme != "wss" && target.Scheme != "ws") {
		return 0, fmt.Errorf("opening dingtalk stream: the gateway returned an endpoint that is not a WebSocket URL")
	}
	q := target.Query()
	q.Set("ticket", ep.Ticket)
	target.RawQuery = q.Encode()
	dialer := websocket.Dialer{HandshakeTimeout: a.cfg.Stream.HandshakeTimeout, Proxy: http.ProxyFromEnvironment}
	conn, resp, err := dialer.DialContext(ctx, target.String(), nil)
	if err != nil {
		if resp != nil {
			return 0, fmt.Errorf("connecting dingtalk stream: HTTP %d", resp.StatusCode)
		}
		return 0, fmt.Errorf("connecting dingtalk stream: %w", redactTicket(err))
	}
	started := time.Now()
	s := &streamConn{a: a, conn: conn, log: a.ch.deps.Log.With(zap.String("account", a.cfg.ID))}
	a.ch.metrics.setConnected(a.cfg.ID, true)
	s.log.Info("dingtalk stream connected")
	err = s.serve(ctx)
	a.ch.metrics.setConnected(a.cfg.ID, false)
	return time.Since(started), err
}

// redactTicket keeps the one-time ticket out of dial errors.
func redactTicket(err error) error {
	msg := err.Error()
	if i := strings.Index(msg, "ticket="); i >= 0 {
		msg = msg[:i] + "ticket=…"
	}
	return errors.New(msg)
}

// streamConn is one open stream connection.
type streamConn struct {
	a    *Account
	conn *websocket.Conn
	log  *zap.Logger
	wmu  sync.Mutex // one writer at a time
}

// serve reads frames until the connection fails, the server asks to
// reconnect, or ctx ends. A ping goes out every ping_interval; any frame or
// pong proves the connection alive, and silence for ping_interval +
// pong_timeout drops it.
func (s *streamConn) serve(ctx context.Context) error {
	cfg := s.a.cfg.Stream
	alive := cfg.PingInterval + cfg.PongTimeout
	done := make(chan struct{})
	defer close(done)
	defer s.conn.Close()
	stop := context.AfterFunc(ctx, func() {
		s.write(func() error {
			return s.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, "shutting down"), time.Now().Add(time.Second))
		})
		s.conn.Close()
	})
	defer stop()

	s.conn.SetReadLimit(maxFrameBytes)
	_ = s.conn.SetReadDeadline(time.Now().Add(alive))
	s.conn.SetPongHandler(func(string) error { return s.conn.SetReadDeadline(time.Now().Add(alive)) })
	go func() {
		t := time.NewTicker(cfg.PingInterval)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				err := s.write(func() error {
					return s.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(cfg.PongTimeout))
				})
				if err != nil {
					s.conn.Close()
					return
				}
			}
		}
	}()
	for {
		kind, data, err := s.conn.ReadMessage()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("reading dingtalk stream: %w", err)
		}
		_ = s.conn.SetReadDeadline(time.Now().Add(alive))
		if kind != websocket.TextMessage {
			continue
		}
		ack, disconnect := s.a.handleFrame(ctx, data)
		if ack != nil {
			if err := s.write(func() error {
				_ = s.conn.SetWriteDeadline(time.Now().Add(cfg.PongTimeout))
				return s.conn.WriteJSON(ack)
			}); err != nil {
				return fmt.Errorf("acknowledging dingtalk frame: %w", err)
			}
		}
		if disconnect {
			return errServerDisconnect
		}
	}
}

func (s *streamConn) write(f func() error) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	return f()
}

// handleFrame answers one frame and returns its ack (nil when the frame
// cannot be acknowledged) and whether the server asked to reconnect. A robot
// message is handed to the router, which returns at once, and acknowledged
// right away: DingTalk does not redeliver robot messages, and the SDK's own
// handler acks only after it returns (PROTOCOLS.md §4.2).
func (a *Account) handleFrame(ctx context.Context, data []byte) (*payload.DataFrameResponse, bool) {
	df, err := payload.DecodeDataFrame(data)
	if err != nil || df.Headers == nil || df.GetMessageId() == "" {
		a.ch.deps.Log.Warn("dropping an undecodable dingtalk stream frame", zap.String("account", a.cfg.ID), zap.Int("bytes", len(data)))
		return nil, false
	}
	var ack *payload.DataFrameResponse
	disconnect := false
	switch {
	case df.Type == utils.SubscriptionTypeKSystem && df.GetTopic() == "ping":
		ack = payload.NewDataFrameAckPong(df.GetMessageId())
		ack.Data = df.Data
	case df.Type == utils.SubscriptionTypeKSystem && df.GetTopic() == "disconnect":
		ack, disconnect = payload.NewSuccessDataFrameResponse(), true
	case df.Type == utils.SubscriptionTypeKSystem:
		ack = payload.NewSuccessDataFrameResponse()
	case df.Type == utils.SubscriptionTypeKCallback && df.GetTopic() == payload.BotMessageCallbackTopic:
		ack = a.acceptFrame(ctx, []byte(df.Data))
	default:
		ack = payload.NewDataFrameResponse(payload.DataFrameResponseStatusCodeKHandlerNotFound)
	}
	ack.SetHeader(payload.DataFrameHeaderKMessageId, df.GetMessageId())
	ack.SetHeader(payload.DataFrameHeaderKContentType, payload.DataFrameContentTypeKJson)
	return ack, disconnect
}

// acceptFrame normalizes a robot message exactly as HTTP mode does (same
// body) and hands it to the router.
func (a *Account) acceptFrame(ctx context.Context, body []byte) *payload.DataFrameResponse {
	msg, err := dingmsg.Parse(a.src, body)
	if err != nil {
		a.ch.deps.Log.Warn("refused a dingtalk stream message", zap.String("account", a.cfg.ID), zap.Error(err))
		resp := payload.NewDataFrameResponse(payload.DataFrameResponseStatusCodeKInternalError)
		resp.Message = "malformed robot message"
		return resp
	}
	if err := a.accept(ctx, msg); err != nil {
		a.ch.deps.Log.Error("accepting dingtalk stream message failed", zap.String("account", a.cfg.ID), zap.Error(err))
		resp := payload.NewDataFrameResponse(payload.DataFrameResponseStatusCodeKInternalError)
		resp.Message = "temporarily unavailable"
		return resp
	}
	return payload.NewSuccessDataFrameResponse()
}
