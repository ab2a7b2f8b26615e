package wechatmp

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/kefu-gateway/kefu/adapters"
	"github.com/kefu-gateway/kefu/adapters/internal/fakeplatform"
	"github.com/kefu-gateway/kefu/adapters/internal/wxcrypto"
	"github.com/kefu-gateway/kefu/adapters/message"
	"github.com/kefu-gateway/kefu/internal/clock"
	"gopkg.in/yaml.v3"
)

func build(t testing.TB, src string, inbound adapters.Inbound) (adapters.Channel, error) {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatal(err)
	}
	return New(adapters.Deps{ConfigFile: "kefu.yaml", Inbound: inbound, Clock: clock.NewFake(testNow), BodyLimit: 1 << 20}, &doc, "channels.wechat_mp")
}

var testNow = time.Unix(1714036504, 0)

func TestConfig(t *testing.T) {
	ch, err := build(t, "- { id: mp, app_id: wx1, app_secret: s, token: abc }", nil)
	if err != nil {
		t.Fatal(err)
	}
	a := ch.Adapters()[0].(*Account)
	if a.cfg.Format != "xml" || a.cfg.AckWait != time.Second || !a.cfg.Typing || a.cfg.SubscribeFallback.State != "formal" || a.cfg.MaxTextBytes != 2048 {
		t.Fatalf("defaults %+v", a.cfg)
	}
	if caps := a.Capabilities(); caps.PassiveBudget != 0 || caps.MaxTextBytes != 2048 {
		t.Fatalf("capabilities %+v: a mini-program has no passive reply", caps)
	}
	for _, tt := range []struct{ src, want string }{
		{"- { id: mp, app_id: wx1, token: abc }", "app_secret: REQUIRED"},
		{"- { id: mp, app_id: wx1, app_secret: s, token: abc, format: yaml }", "format: must be xml or json"},
		{"- { id: mp, app_id: wx1, app_secret: s, token: abc, ack_wait: 6s }", "ack_wait: must be between"},
		{"- { id: mp, app_id: wx1, app_secret: s, token: abc, subscribe_fallback: { template_id: T } }", "subscribe_fallback.fields: REQUIRED"},
		{"- { id: mp, app_id: wx1, app_secret: s, token: abc, subscribe_fallback: { miniprogram_state: beta } }", "miniprogram_state: must be formal"},
		{"- { id: mp, app_id: wx1, app_secret: s, token: abc, encryption: compatible }", "encoding_aes_key: REQUIRED"},
	} {
		if _, err := build(t, tt.src, nil); err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "kefu.yaml:") {
			t.Errorf("%s: error %v, want %q", tt.src, err, tt.want)
		}
	}
}

// failingInbound accepts every message into a turn that fails at once,
// as when Redis is unreachable.
type failingInbound struct{}

func (failingInbound) Accept(context.Context, message.Message) (adapters.Turn, error) {
	done := make(chan struct{})
	close(done)
	return failedTurn{done}, nil
}

type failedTurn struct{ done chan struct{} }

func (f failedTurn) Duplicate() bool          { return false }
func (f failedTurn) Known() <-chan struct{}   { return f.done }
func (f failedTurn) Done() <-chan struct{}    { return f.done }
func (f failedTurn) Err() error               { return errors.New("loading conversation: connection refused") }
func (f failedTurn) Return([]message.Message) {}
func (f failedTurn) TakePassive(context.Context, time.Duration) ([]message.Message, bool) {
	return nil, true
}

const fuzzSrc = "- { id: f, app_id: wxfuzz, app_secret: s, token: fuzzToken, format: json, encoding_aes_key: abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG }"

func newApp(t testing.TB, inbound adapters.Inbound) *fiber.App {
	ch, err := build(t, fuzzSrc, inbound)
	if err != nil {
		t.Fatal(err)
	}
	app := fiber.New()
	ch.Mount(app)
	return app
}

var signer = fakeplatform.CallbackSigner{Token: "fuzzToken", EncodingAESKey: "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", ReceiveID: "wxfuzz", Now: func() time.Time { return testNow }}

// A push kefu could not take (the turn failed before anything was stored)
// is answered 500 so WeChat retries it, instead of a success that loses it.
func TestFailedTurnIs500(t *testing.T) {
	app := newApp(t, failingInbound{})
	req, err := signer.EncryptedPush("/wechat/mp/f", fakeplatform.MPTextJSON("oX", "gh_x", "你好", 1, testNow), wxcrypto.FormatJSON)
	if err != nil {
		t.Fatal(err)
	}
	res, err := app.Test(req, -1)
	if err != nil || res.StatusCode != http.StatusInternalServerError {
		t.Fatalf("failed turn answered %v, %v; want 500", res.StatusCode, err)
	}
}

// okInbound accepts every message into a turn that finishes without replies.
type okInbound struct {
	mu  sync.Mutex
	got []message.Message
}

func (o *okInbound) Accept(_ context.Context, m message.Message) (adapters.Turn, error) {
	o.mu.Lock()
	o.got = append(o.got, m)
	o.mu.Unlock()
	done := make(chan struct{})
	close(done)
	return okTurn{done}, nil
}

type okTurn struct{ done chan struct{} }

func (o okTurn) Duplicate() bool          { return false }
func (o okTurn) Known() <-chan struct{}   { return o.done }
func (o okTurn) Done() <-chan struct{}    { return o.done }
func (o okTurn) Err() error               { return nil }
func (o okTurn) Return([]message.Message) {}
func (o okTurn) TakePassive(context.Context, time.Duration) ([]message.Message, bool) {
	return nil, true
}

// FuzzPush feeds arbitrary queries and bodies to the push handler, seeded
// with genuine JSON pushes. Whatever arrives, the handler answers success
// (and then the router got a message with an id and a sender), 400, 401 or
// 413, and never panics.
func FuzzPush(f *testing.F) {
	for _, p := range [][]byte{
		fakeplatform.MPTextJSON("oFuzz", "gh_fuzz", "你好", 1, testNow),
		fakeplatform.MPEnterSessionJSON("oFuzz", "gh_fuzz", "product_page", testNow),
	} {
		for _, enc := range []bool{false, true} {
			var req *http.Request
			var err error
			if enc {
				req, err = signer.EncryptedPush("/wechat/mp/f", p, wxcrypto.FormatJSON)
			} else {
				req, err = signer.PlainPush("/wechat/mp/f", p, wxcrypto.FormatJSON)
			}
			if err != nil {
				f.Fatal(err)
			}
			var body bytes.Buffer
			_, _ = body.ReadFrom(req.Body)
			f.Add(req.URL.RawQuery, body.Bytes())
		}
	}
	in := &okInbound{}
	app := newApp(f, in)
	f.Fuzz(func(t *testing.T, query string, body []byte) {
		if _, err := url.ParseQuery(query); err != nil {
			return
		}
		req, err := http.NewRequest(http.MethodPost, "/wechat/mp/f?"+query, bytes.NewReader(body))
		if err != nil {
			return
		}
		in.mu.Lock()
		before := len(in.got)
		in.mu.Unlock()
		res, err := app.Test(req, -1)
		if err != nil {
			t.Fatal(err)
		}
		switch res.StatusCode {
		case http.StatusOK:
			in.mu.Lock()
			defer in.mu.Unlock()
			if len(in.got) != before+1 {
				t.Fatal("success without exactly one message accepted")
			}
			if m := in.got[len(in.got)-1]; m.ID == "" || m.From.ID == "" {
				t.Fatalf("accepted message without id or sender: %+v", m)
			}
		case http.StatusBadRequest, http.StatusUnauthorized, http.StatusRequestEntityTooLarge:
		default:
			t.Fatalf("status %d", res.StatusCode)
		}
	})
}
