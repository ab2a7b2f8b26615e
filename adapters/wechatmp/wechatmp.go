// Package wechatmp is the WeChat mini-program customer-service channel
// (小程序客服消息).
//
// The message-push URL (https://HOST/wechat/mp/{id}) answers the console's
// URL check, then receives customer messages in XML or JSON (the console's
// 数据格式), plain or encrypted (PROTOCOLS.md §2): text, image,
// miniprogrampage cards and user_enter_tempsession, the event of a customer
// opening the chat from a <button open-type="contact">, whose session-from
// starts flows as Event{Type: enter_session, Key: SessionFrom}.
//
// Mini-programs have no passive reply: each push is acknowledged with
// `success` as soon as kefu has taken it, and every answer goes through the
// customer-service API, within the customer's window and quota (5 messages
// within 48 h of a message, 2 within a minute of entering the chat,
// PROTOCOLS.md §2), tracked in Redis by every process. Outside them a send
// is not attempted: it is recorded as undeliverable with the reason, or
// sent as a subscribe message when subscribe_fallback is set.
package wechatmp

import (
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
const Kind = "wechat_mp"

// CallbackPath is the route of every account's message push; {id} is the
// account id.
const CallbackPath = "/wechat/mp/:id"

func init() { adapters.Register(Kind, New) }

// Channel is every configured mini-program.
type Channel struct {
	deps     adapters.Deps
	accounts map[string]*Account
	order    []*Account
}

// Account is one configured mini-program: an adapters.Adapter.
type Account struct {
	cfg     AccountConfig
	format  wxcrypto.Format
	src     normalize.Source
	crypter *wxcrypto.Crypter
	// api and window are nil when built without Redis (validation).
	api       *apiclient.WeChatAPI
	window    *window.Tracker
	inbound   adapters.Inbound
	log       *zap.Logger
	metrics   *metrics.Metrics
	clock     clock.Clock
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
		format:    wxcrypto.FormatXML,
		src:       normalize.Source{Channel: Kind, Account: cfg.ID},
		inbound:   deps.Inbound,
		log:       deps.Log.With(zap.String("channel", Kind), zap.String("account", cfg.ID)),
		metrics:   deps.Metrics,
		clock:     deps.Clock,
		bodyLimit: deps.BodyLimit,
	}
	if cfg.Format == FormatJSON {
		a.format = wxcrypto.FormatJSON
	}
	var err error
	if a.crypter, err = cfg.Crypter(deps.Clock.Now); err != nil {
		return nil, err
	}
	if deps.Redis == nil {
		return a, nil // validation only
	}
	a.window = tracker
	if a.api, err = cfg.NewAPI(deps.Redis, deps.Keys.Prefix, deps.Clock.Now); err != nil {
		return nil, err
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

// Mount adds GET (URL check) and POST (message push) /wechat/mp/{id}.
func (ch *Channel) Mount(r fiber.Router) {
	r.Get(CallbackPath, ch.verifyURL)
	r.Post(CallbackPath, ch.receive)
}

// Channel names the kind.
func (a *Account) Channel() string { return Kind }

// Account is the configured account id.
func (a *Account) Account() string { return a.cfg.ID }

// Capabilities of a mini-program: texts up to max_text_bytes, no passive
// reply (answers always go through the API), bursts of short texts merged
// over merge_window, no buttons, no markdown.
func (a *Account) Capabilities() adapters.Capabilities {
	return adapters.Capabilities{MaxTextBytes: a.cfg.MaxTextBytes, MergeWindow: a.cfg.MergeWindow}
}

func (a *Account) windowKey(openID string) string { return a.window.Key(Kind, a.cfg.ID, openID) }

func (a *Account) countOut(kind, result string) {
	if a.metrics != nil {
		a.metrics.MessagesOut.WithLabelValues(Kind, kind, result).Inc()
	}
}
