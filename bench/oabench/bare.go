package main

import (
	"net"
	"net/http"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/silenceper/wechat/v2/officialaccount"
	offconfig "github.com/silenceper/wechat/v2/officialaccount/config"
	"github.com/silenceper/wechat/v2/officialaccount/message"
)

// noCache satisfies silenceper's cache.Cache for an account that never
// fetches an access token (the echo server only answers passively).
type noCache struct{}

func (noCache) Get(string) interface{}                       { return nil }
func (noCache) Set(string, interface{}, time.Duration) error { return nil }
func (noCache) IsExist(string) bool                          { return false }
func (noCache) Delete(string) error                          { return nil }

// BarePath is the bare server's callback path.
const BarePath = "/wx"

// startBare runs the floor of the work: a stateless silenceper/wechat
// official-account server behind fiber (through the net/http adaptor, as
// PROTOCOLS.md §6 describes) that checks the signature, parses the push and
// echoes its text as a passive reply. No Redis, no dedup, no flows.
func startBare(ln net.Listener, tok string) *fiber.App {
	oa := officialaccount.NewOfficialAccount(&offconfig.Config{AppID: benchAppID, AppSecret: "unused", Token: tok, Cache: noCache{}})
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Post(BarePath, adaptor.HTTPHandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		srv := oa.GetServer(r, w)
		srv.SetMessageHandler(func(m *message.MixMessage) *message.Reply {
			return &message.Reply{MsgType: message.MsgTypeText, MsgData: message.NewText(m.Content)}
		})
		if err := srv.Serve(); err != nil {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		_ = srv.Send()
	}))
	go func() { _ = app.Listener(ln) }()
	return app
}
