// Package wechatoa is the WeChat official-account (公众号) channel.
//
// The account's callback URL (https://HOST/wechat/oa/{id}) answers the
// console's URL check, then receives every customer message and event in
// plain, compatible or safe (AES) mode (PROTOCOLS.md §1.1). Each push is
// verified (signature, replay window), decrypted, normalized and handed to
// the router; the answer goes back as a passive reply when it is ready
// within the passive budget (default 4 s, below WeChat's 5 s cut-off,
// PROTOCOLS.md §1.2). Otherwise the callback is acknowledged and:
//
//   - a verified account (verified: true) shows the typing indicator and
//     sends the answer through the customer-service API once it is ready;
//   - an unverified account, which has no such API, replies with a hint
//     (deferred_hint) and keeps the answer for the customer's next message,
//     so the customer never meets silence.
//
// One passive reply carries one message: a turn's texts are merged into it
// while they fit WeChat's 2048 bytes, and the rest goes out actively (or is
// kept, when unverified) after the passive reply was written.
//
// Active sends respect each customer's reply window and quota (5 messages
// within 48 h of a message, 3 within a minute of a menu click, follow or
// scan, PROTOCOLS.md §1.5), tracked in Redis by every process: a send
// outside them is not attempted but recorded as undeliverable with the
// reason, or sent as a template message when template_fallback is set.
package wechatoa

import (
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/kefu-gateway/kefu/adapters"
	"github.com/kefu-gateway/kefu/adapters/internal/apiclient"
	"github.com/kefu-gateway/kefu/adapters/internal/normalize"
	"github.com/kefu-gateway/kefu/adapters/internal/window"
	"github.com/kefu-gateway/kefu/adapters/internal/wxcrypto"
	"github.com/kefu-gateway/kefu/internal/clock"
	"github.com/kefu-gateway/kefu/internal/metrics"
	"go.uber.org/zap"
	"gopkg.in/yaml.v3"
)

// Kind is the channel kind name.
const Kind = "wechat_oa"

// CallbackPath is the route of every account's callback; {id} is the
// account id.
const CallbackPath = "/wechat/oa/:id"

func init() { adapters.Register(Kind, New) }

// Channel is every configured official account.
type Channel struct {
	deps     adapters.Deps
	accounts map[string]*Account
	order    []*Account
}

// Account is one configured official account: an adapters.Adapter.
type Account struct {
	cfg     AccountConfig
	src     normalize.Source
	crypter *wxcrypto.Crypter
	// api is nil for unverified accounts and when built without Redis
	// (configuration validation).
	api     *apiclient.WeChatAPI
	window  *window.Tracker
	inbound adapters.Inbound
	log     *zap.Logger
	metrics *metrics.Metrics
	clock   clock.Clock
	// bodyLimit is http.body_limit (0 = no limit of its own).
	bodyLimit int
}

var (
	_ adapters.Channel        = (*Channel)(nil)
	_ adapters.Adapter        = (*Account)(nil)
	_ adapters.WindowChecker  = (*Account)(nil)
	_ adapters.TemplateSender = (*Account)(nil)
)

// New builds the channel from its configuration list. It does no I/O.
func New(deps adapters.Deps, node *yaml.Node, path string) (adapters.Channel, error) {
	if deps.Clock == nil {
		deps.Clock = clock.Real{}
	}
	if deps.Log == nil {
		deps.Log = zap.NewNop()
	}
	ch := &Channel{deps: deps, accounts: map[string]*Account{}}
	var tracker *window.Tracker
	if deps.Redis != nil {
		tracker = window.New(deps.Redis, deps.Batch, deps.Keys.Window(), deps.Clock.Now)
	}
	list, err := adapters.BuildAccounts(deps, node, path, defaultAccount,
		func(c AccountConfig) string { return c.ID },
		func(cfg AccountConfig) (*Account, error) { return newAccount(deps, cfg, tracker) })
	if err != nil {
		return nil, err
	}
	for _, a := range list {
		ch.accounts[a.cfg.ID] = a
		ch.order = append(ch.order, a)
	}
	return ch, nil
}

func newAccount(deps adapters.Deps, cfg AccountConfig, tracker *window.Tracker) (*Account, error) {
	a := &Account{
		cfg:       cfg,
		src:       normalize.Source{Channel: Kind, Account: cfg.ID},
		inbound:   deps.Inbound,
		log:       deps.Log.With(zap.String("channel", Kind), zap.String("account", cfg.ID)),
		metrics:   deps.Metrics,
		clock:     deps.Clock,
		bodyLimit: deps.BodyLimit,
	}
	var err error
	if a.crypter, err = cfg.Crypter(deps.Clock.Now); err != nil {
		return nil, err
	}
	if deps.Redis == nil {
		return a, nil // validation only
	}
	a.window = tracker
	if cfg.Verified {
		if a.api, err = cfg.NewAPI(deps.Redis, deps.Keys.Prefix, deps.Clock.Now); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// Adapters returns every account.
func (ch *Channel) Adapters() []adapters.Adapter {
	out := make([]adapters.Adapter, len(ch.order))
	for i, a := range ch.order {
		out[i] = a
	}
	return out
}

// Mount adds GET (URL check) and POST (messages) /wechat/oa/{id}.
func (ch *Channel) Mount(r fiber.Router) {
	r.Get(CallbackPath, ch.verifyURL)
	r.Post(CallbackPath, ch.receive)
}

// Channel names the kind.
func (a *Account) Channel() string { return Kind }

// Account is the configured account id.
func (a *Account) Account() string { return a.cfg.ID }

// Capabilities of an official account: text up to 2048 bytes (less the
// more hint's room when unverified), a passive reply within the budget,
// bursts of short texts merged over merge_window, no buttons, no markdown.
func (a *Account) Capabilities() adapters.Capabilities {
	return adapters.Capabilities{MaxTextBytes: a.cfg.maxText(), PassiveBudget: a.cfg.PassiveBudget, MergeWindow: a.cfg.MergeWindow}
}

// windowKey is the customer's reply-window key.
func (a *Account) windowKey(openID string) string { return a.window.Key(Kind, a.cfg.ID, openID) }

func (a *Account) countOut(kind, result string, n int) {
	if a.metrics != nil && n > 0 {
		a.metrics.MessagesOut.WithLabelValues(Kind, kind, result).Add(float64(n))
	}
}

// now is the account's clock.
func (a *Account) now() time.Time { return a.clock.Now() }
