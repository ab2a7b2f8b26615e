package wecomapp

import (
	"fmt"

	"github.com/gofiber/fiber/v2"
	"github.com/hibiken/asynq"
	"github.com/kefu-gateway/kefu/adapters"
	"github.com/kefu-gateway/kefu/adapters/internal/apiclient"
	"github.com/kefu-gateway/kefu/adapters/internal/normalize"
	"github.com/kefu-gateway/kefu/adapters/internal/wxcrypto"
	"github.com/kefu-gateway/kefu/adapters/internal/wxtoken"
	"github.com/prometheus/client_golang/prometheus"
	"gopkg.in/yaml.v3"
)

// Kind is the channel kind name.
const Kind = "wecom_app"

func init() { adapters.Register(Kind, New) }

// Channel is every configured WeCom self-built app.
type Channel struct {
	deps     adapters.Deps
	accounts map[string]*Account
	order    []*Account
	limited  *prometheus.CounterVec
}

// Account is one configured app: an adapters.Adapter.
type Account struct {
	ch      *Channel
	cfg     AccountConfig
	src     normalize.Source
	crypter *wxcrypto.Crypter
	// api and limiter are nil when the channel was built without Redis
	// (configuration validation).
	api     *apiclient.WeComAPI
	limiter *memberLimiter
}

var (
	_ adapters.Channel      = (*Channel)(nil)
	_ adapters.TaskProvider = (*Channel)(nil)
	_ adapters.Adapter      = (*Account)(nil)
)

// New builds the wecom_app channel from its configuration list. It does no
// I/O: API clients connect lazily on first use.
func New(deps adapters.Deps, node *yaml.Node, path string) (adapters.Channel, error) {
	ch := &Channel{deps: deps, accounts: map[string]*Account{}}
	list, err := adapters.BuildAccounts(deps, node, path, defaultAccount,
		func(c AccountConfig) string { return c.ID },
		func(cfg AccountConfig) (*Account, error) { return ch.newAccount(cfg) })
	if err != nil {
		return nil, err
	}
	for _, a := range list {
		ch.accounts[a.cfg.ID] = a
		ch.order = append(ch.order, a)
	}
	if deps.Metrics != nil {
		ch.limited = registerCounter(deps.Metrics.Registry, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kefu_wecom_app_rate_limited_total",
			Help: "WeCom app messages held back by the per-member send limit, by account and outcome (waited, queued).",
		}, []string{"account", "outcome"}))
	}
	return ch, nil
}

func (ch *Channel) newAccount(cfg AccountConfig) (*Account, error) {
	now := ch.deps.Clock
	crypter, err := wxcrypto.New(wxcrypto.Config{
		Token: cfg.Token, EncodingAESKey: cfg.EncodingAESKey, ReceiveID: cfg.CorpID,
		RequireEncryption: true, MaxSkew: cfg.MaxSkew, Now: now.Now,
	})
	if err != nil {
		return nil, err
	}
	a := &Account{ch: ch, cfg: cfg, src: normalize.Source{Channel: Kind, Account: cfg.ID}, crypter: crypter}
	if ch.deps.Redis == nil {
		return a, nil
	}
	httpCfg := apiclient.Config{APIBase: cfg.APIBase, Timeout: cfg.Timeout}
	plain, err := apiclient.New(apiclient.WeCom, httpCfg, nil)
	if err != nil {
		return nil, err
	}
	key := wxtoken.WeComKey(ch.deps.Keys.Prefix, cfg.CorpID, fmt.Sprint(cfg.AgentID))
	tokens, err := wxtoken.NewStore(ch.deps.Redis, key, wxtoken.WeCom(plain, cfg.CorpID, cfg.Secret), wxtoken.Config{Now: now.Now})
	if err != nil {
		return nil, err
	}
	client, err := apiclient.New(apiclient.WeCom, httpCfg, tokens)
	if err != nil {
		return nil, err
	}
	a.api = apiclient.NewWeComAPI(client)
	a.limiter = &memberLimiter{rdb: ch.deps.Redis, prefix: ch.deps.Keys.Prefix + "wecomapp:sends:" + cfg.ID + ":", limit: cfg.RateLimit, now: now.Now}
	return a, nil
}

// registerCounter registers c, or returns the collector already registered
// under its name (a registry shared by several builds in tests).
func registerCounter(r *prometheus.Registry, c *prometheus.CounterVec) *prometheus.CounterVec {
	if err := r.Register(c); err != nil {
		if are, ok := err.(prometheus.AlreadyRegisteredError); ok {
			if existing, ok := are.ExistingCollector.(*prometheus.CounterVec); ok {
				return existing
			}
		}
	}
	return c
}

// Adapters returns every account.
func (ch *Channel) Adapters() []adapters.Adapter {
	out := make([]adapters.Adapter, len(ch.order))
	for i, a := range ch.order {
		out[i] = a
	}
	return out
}

// Account returns the account with id, for components that use the app
// beyond the adapter contract (the handoff component sends to agents with
// SendText).
func (ch *Channel) Account(id string) (*Account, bool) {
	a, ok := ch.accounts[id]
	return a, ok
}

// Mount adds GET and POST /wecom/app/{id}.
func (ch *Channel) Mount(r fiber.Router) {
	r.Get("/wecom/app/:id", ch.verifyURL)
	r.Post("/wecom/app/:id", ch.callback)
}

// Tasks returns the handler of queued sends (messages held back by the
// per-member limit).
func (ch *Channel) Tasks() map[string]asynq.Handler {
	return map[string]asynq.Handler{TypeQueuedSend: asynq.HandlerFunc(ch.processQueuedSend)}
}

// Channel names the kind.
func (a *Account) Channel() string { return Kind }

// Account is the configured id.
func (a *Account) Account() string { return a.cfg.ID }

// AgentID is the app's AgentId.
func (a *Account) AgentID() int64 { return a.cfg.AgentID }

// Capabilities of a WeCom app: text up to 2048 bytes, sent actively (the
// callback is answered with an empty 200 at once), no buttons, bursts of
// short texts merged over merge_window.
func (a *Account) Capabilities() adapters.Capabilities {
	return adapters.Capabilities{MaxTextBytes: MaxTextBytes, MergeWindow: a.cfg.MergeWindow}
}
