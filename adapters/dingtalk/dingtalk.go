package dingtalk

import (
	"context"
	"sync"

	"github.com/gofiber/fiber/v2"
	"github.com/kefu-gateway/kefu/adapters"
	"github.com/kefu-gateway/kefu/adapters/internal/apiclient"
	"github.com/kefu-gateway/kefu/adapters/internal/dingmsg"
	"github.com/kefu-gateway/kefu/adapters/internal/normalize"
	"github.com/kefu-gateway/kefu/adapters/internal/wxtoken"
	"gopkg.in/yaml.v3"
)

// Kind is the channel kind name.
const Kind = "dingtalk"

func init() { adapters.Register(Kind, New) }

// Channel is every configured DingTalk robot.
type Channel struct {
	deps     adapters.Deps
	accounts map[string]*Account
	order    []*Account
	metrics  *streamMetrics
}

// Account is one configured robot: an adapters.Adapter.
type Account struct {
	ch  *Channel
	cfg AccountConfig
	src normalize.Source
	// client and api are nil when the channel was built without Redis
	// (configuration validation).
	client *apiclient.Client
	api    *apiclient.DingTalkAPI
}

var (
	_ adapters.Channel = (*Channel)(nil)
	_ adapters.Runner  = (*Channel)(nil)
	_ adapters.Adapter = (*Account)(nil)
)

// New builds the dingtalk channel from its configuration list. It does no
// I/O: stream connections open in Run, API clients connect on first use.
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
		ch.metrics = newStreamMetrics(deps.Metrics.Registry)
	}
	return ch, nil
}

func (ch *Channel) newAccount(cfg AccountConfig) (*Account, error) {
	a := &Account{ch: ch, cfg: cfg, src: normalize.Source{Channel: Kind, Account: cfg.ID}}
	if ch.deps.Redis == nil {
		return a, nil
	}
	httpCfg := apiclient.Config{APIBase: cfg.APIBase, Timeout: cfg.Timeout}
	plain, err := apiclient.New(apiclient.DingTalk, httpCfg, nil)
	if err != nil {
		return nil, err
	}
	tokens, err := wxtoken.NewStore(ch.deps.Redis, wxtoken.DingTalkKey(ch.deps.Keys.Prefix, cfg.AppKey),
		wxtoken.DingTalk(plain, cfg.AppKey, cfg.AppSecret), wxtoken.Config{Now: ch.deps.Clock.Now})
	if err != nil {
		return nil, err
	}
	if a.client, err = apiclient.New(apiclient.DingTalk, httpCfg, tokens); err != nil {
		return nil, err
	}
	a.api = apiclient.NewDingTalkAPI(a.client)
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

// Mount adds POST /dingtalk/{id}, the HTTP-mode callback.
func (ch *Channel) Mount(r fiber.Router) {
	r.Post("/dingtalk/:id", ch.callback)
}

// Run keeps a stream connection open for every stream-mode account until
// ctx ends. With none it returns at once.
func (ch *Channel) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, a := range ch.order {
		if a.cfg.Mode != ModeStream || a.client == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			a.runStream(ctx)
		}()
	}
	wg.Wait()
	return nil
}

// Channel names the kind.
func (a *Account) Channel() string { return Kind }

// Account is the configured id.
func (a *Account) Account() string { return a.cfg.ID }

// Capabilities of a DingTalk robot: markdown renders (session webhooks and
// the OpenAPI both send it); replies are always sent actively; bursts of
// short texts are merged over merge_window.
func (a *Account) Capabilities() adapters.Capabilities {
	return adapters.Capabilities{MaxTextBytes: MaxTextBytes, Markdown: true, MergeWindow: a.cfg.MergeWindow, RoutingMeta: routingMeta}
}

// routingMeta is the meta a contact keeps to reach the customer again: the
// conversation and the robot that answers in it.
var routingMeta = []string{dingmsg.MetaConversationType, dingmsg.MetaConversationID, dingmsg.MetaRobotCode}

// MaxTextBytes splits long replies. DingTalk documents no hard limit for
// robot text; 5000 bytes keeps a message readable on a phone (a convention).
const MaxTextBytes = 5000
