// Package web is the web chat channel: visitor sessions with signed tokens,
// a messages API that waits briefly for replies, history with long-polling,
// WebSocket push, and the embeddable widget (/widget.js) with a demo page (/).
//
// Customers read the transcript directly, so a reply is delivered the moment
// the router commits it: every kefu process listening to the conversation
// (through Redis pub/sub) pushes it to the visitor's WebSocket.
package web

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/kefu-gateway/kefu/adapters"
	"github.com/kefu-gateway/kefu/adapters/message"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"gopkg.in/yaml.v3"
)

// Kind is the channel kind name.
const Kind = "web"

func init() { adapters.Register(Kind, New) }

// Channel is every configured web site.
type Channel struct {
	deps  adapters.Deps
	sites map[string]*Site
	order []*Site

	sharedMu sync.Mutex
	shared   []byte
}

// Site is one configured site: an adapters.Adapter.
type Site struct {
	cfg SiteConfig
	// secret is the configured token secret, or nil for the shared one.
	secret []byte
}

var (
	_ adapters.Channel = (*Channel)(nil)
	_ adapters.Adapter = (*Site)(nil)
)

// New builds the web channel from its configuration list.
func New(deps adapters.Deps, node *yaml.Node, path string) (adapters.Channel, error) {
	ch := &Channel{deps: deps, sites: map[string]*Site{}}
	sites, err := adapters.BuildAccounts(deps, node, path, defaultSite,
		func(c SiteConfig) string { return c.ID },
		func(cfg SiteConfig) (*Site, error) {
			s := &Site{cfg: cfg}
			if cfg.TokenSecret != "" {
				s.secret = []byte(cfg.TokenSecret)
			}
			return s, nil
		})
	if err != nil {
		return nil, err
	}
	for _, s := range sites {
		ch.sites[s.cfg.ID] = s
		ch.order = append(ch.order, s)
	}
	return ch, nil
}

// secretFor returns the site's token secret: its own, or the one every
// process shares through Redis, created on first use and then cached.
func (ch *Channel) secretFor(ctx context.Context, s *Site) ([]byte, error) {
	if s.secret != nil {
		return s.secret, nil
	}
	ch.sharedMu.Lock()
	defer ch.sharedMu.Unlock()
	if ch.shared != nil {
		return ch.shared, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	key := ch.deps.Keys.WebSecret()
	if err := ch.deps.Redis.SetNX(ctx, key, hex.EncodeToString(b), 0).Err(); err != nil {
		return nil, fmt.Errorf("creating web token secret: %w", err)
	}
	v, err := ch.deps.Redis.Get(ctx, key).Result()
	if err != nil {
		if errors.Is(err, redis.Nil) {
			return nil, errors.New("reading web token secret: missing after creation")
		}
		return nil, fmt.Errorf("reading web token secret: %w", err)
	}
	ch.shared = []byte(v)
	return ch.shared, nil
}

// Adapters returns every site.
func (ch *Channel) Adapters() []adapters.Adapter {
	out := make([]adapters.Adapter, len(ch.order))
	for i, s := range ch.order {
		out[i] = s
	}
	return out
}

// Mount adds the web routes, the widget and the demo page.
func (ch *Channel) Mount(r fiber.Router) {
	r.Get("/", ch.demoPage)
	r.Get("/widget.js", ch.widget)
	api := r.Group("/api/web/:id", ch.site)
	api.Options("/*", func(c *fiber.Ctx) error { return c.SendStatus(fiber.StatusNoContent) })
	api.Post("/sessions", ch.createSession)
	api.Post("/messages", ch.auth, ch.postMessage)
	api.Get("/messages", ch.auth, ch.getMessages)
	r.Get("/ws/web/:id", ch.site, ch.wsUpgrade, ch.wsHandler())
}

// Channel names the kind.
func (s *Site) Channel() string { return Kind }

// Account is the site id.
func (s *Site) Account() string { return s.cfg.ID }

// Capabilities of the web channel: no length limit worth splitting at,
// buttons for choices, and delivery through the transcript.
func (s *Site) Capabilities() adapters.Capabilities {
	return adapters.Capabilities{
		PassiveBudget:      s.cfg.ReplyWait,
		Buttons:            true,
		Markdown:           false,
		TranscriptDelivery: true,
		Streaming:          true,
	}
}

// Send has nothing to do: the router's commit already wrote the message to
// the transcript and published it to every process holding a WebSocket.
func (s *Site) Send(ctx context.Context, msg message.Message) (adapters.SendResult, error) {
	return adapters.SendResult{PlatformID: msg.ID}, nil
}

func (ch *Channel) log() *zap.Logger { return ch.deps.Log }

func conversationID(site, visitor string) string { return "web:" + site + ":" + visitor }
