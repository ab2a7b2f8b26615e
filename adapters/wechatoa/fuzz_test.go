package wechatoa

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
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

// answeringInbound accepts every message and answers it at once.
type answeringInbound struct {
	mu  sync.Mutex
	got []message.Message
}

func (a *answeringInbound) Accept(_ context.Context, m message.Message) (adapters.Turn, error) {
	a.mu.Lock()
	a.got = append(a.got, m)
	a.mu.Unlock()
	done := make(chan struct{})
	close(done)
	return &doneTurn{done: done, replies: []message.Message{{Kind: message.KindText, Text: "好的"}}}, nil
}

type doneTurn struct {
	done    chan struct{}
	replies []message.Message
}

func (d *doneTurn) Duplicate() bool          { return false }
func (d *doneTurn) Known() <-chan struct{}   { return d.done }
func (d *doneTurn) Done() <-chan struct{}    { return d.done }
func (d *doneTurn) Err() error               { return nil }
func (d *doneTurn) Return([]message.Message) {}
func (d *doneTurn) TakePassive(context.Context, time.Duration) ([]message.Message, bool) {
	return d.replies, true
}

const fuzzToken, fuzzKey, fuzzApp = "fuzzToken", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", "wxfuzz"

var fuzzNow = time.Unix(1714036504, 0)

func newFuzzApp(t testing.TB, inbound adapters.Inbound) *fiber.App {
	var doc yaml.Node
	src := "- { id: f, app_id: " + fuzzApp + ", token: " + fuzzToken + ", encoding_aes_key: " + fuzzKey + " }"
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatal(err)
	}
	ch, err := New(adapters.Deps{Inbound: inbound, Clock: clock.NewFake(fuzzNow), BodyLimit: 1 << 20}, &doc, "channels.wechat_oa")
	if err != nil {
		t.Fatal(err)
	}
	app := fiber.New(fiber.Config{BodyLimit: 1 << 20})
	ch.Mount(app)
	return app
}

// FuzzCallback feeds arbitrary queries and bodies to the callback handler,
// seeded with genuine plain and encrypted pushes. Whatever arrives, the
// handler answers 200 (and then the router got a message with an id and a
// sender), 400, 401 or 413, and never panics.
func FuzzCallback(f *testing.F) {
	s := fakeplatform.CallbackSigner{Token: fuzzToken, EncodingAESKey: fuzzKey, ReceiveID: fuzzApp, Now: func() time.Time { return fuzzNow }}
	payload := fakeplatform.OAText("oFuzz", "gh_fuzz", "你好", 1, fuzzNow)
	for _, build := range []func() (*http.Request, error){
		func() (*http.Request, error) { return s.PlainPush("/wechat/oa/f", payload, wxcrypto.FormatXML) },
		func() (*http.Request, error) { return s.EncryptedPush("/wechat/oa/f", payload, wxcrypto.FormatXML) },
		func() (*http.Request, error) {
			return s.PlainPush("/wechat/oa/f", fakeplatform.OAEvent("oFuzz", "gh_fuzz", "subscribe", "qrscene_1", fuzzNow), wxcrypto.FormatXML)
		},
	} {
		r, err := build()
		if err != nil {
			f.Fatal(err)
		}
		var body bytes.Buffer
		_, _ = body.ReadFrom(r.Body)
		f.Add(r.URL.RawQuery, body.Bytes())
	}
	f.Add("timestamp=1&nonce=1&signature=0000000000000000000000000000000000000000", []byte("<xml/>"))
	in := &answeringInbound{}
	app := newFuzzApp(f, in)
	f.Fuzz(func(t *testing.T, query string, body []byte) {
		if _, err := url.ParseQuery(query); err != nil {
			return // not a query any client could send
		}
		req, err := http.NewRequest(http.MethodPost, "/wechat/oa/f?"+query, bytes.NewReader(body))
		if err != nil {
			return
		}
		in.mu.Lock()
		before := len(in.got)
		in.mu.Unlock()
		res, err := app.Test(req, -1)
		if err != nil {
			t.Fatalf("request failed: %v", err)
		}
		switch res.StatusCode {
		case http.StatusOK:
			in.mu.Lock()
			defer in.mu.Unlock()
			if len(in.got) != before+1 {
				t.Fatalf("200 without exactly one message accepted")
			}
			m := in.got[len(in.got)-1]
			if m.ID == "" || m.From.ID == "" || m.ConversationID == "" {
				t.Fatalf("accepted message without id or sender: %+v", m)
			}
		case http.StatusBadRequest, http.StatusUnauthorized, http.StatusRequestEntityTooLarge:
		default:
			t.Fatalf("status %d", res.StatusCode)
		}
	})
}
