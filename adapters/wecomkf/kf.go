package wecomkf

import (
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/hibiken/asynq"
	"github.com/kefu-gateway/kefu/adapters"
	"github.com/kefu-gateway/kefu/adapters/internal/apiclient"
	"github.com/kefu-gateway/kefu/adapters/internal/normalize"
	"github.com/kefu-gateway/kefu/adapters/internal/window"
	"github.com/kefu-gateway/kefu/adapters/internal/wxcrypto"
	"github.com/kefu-gateway/kefu/adapters/internal/wxmsg"
	"github.com/kefu-gateway/kefu/adapters/internal/wxtoken"
	"gopkg.in/yaml.v3"
)

// Kind is the channel kind name.
const Kind = "wecom_kf"

func init() { adapters.Register(Kind, New) }

// Channel is every configured 微信客服 account.
type Channel struct {
	deps     adapters.Deps
	accounts map[string]*Account
	order    []*Account
}

// Account is one configured corp's 微信客服: an adapters.Adapter.
type Account struct {
	ch      *Channel
	cfg     AccountConfig
	src     normalize.Source
	crypter *wxcrypto.Crypter
	keys    keys
	// api and windows are nil when the channel was built without Redis
	// (configuration validation).
	api     *apiclient.KFAPI
	windows *window.Tracker
}

var (
	_ adapters.Channel       = (*Channel)(nil)
	_ adapters.TaskProvider  = (*Channel)(nil)
	_ adapters.Adapter       = (*Account)(nil)
	_ adapters.WindowChecker = (*Account)(nil)
)

// New builds the wecom_kf channel from its configuration list. It does no
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
	return ch, nil
}

func (ch *Channel) newAccount(cfg AccountConfig) (*Account, error) {
	now := ch.deps.Clock.Now
	crypter, err := wxcrypto.New(wxcrypto.Config{
		Token: cfg.Token, EncodingAESKey: cfg.EncodingAESKey, ReceiveID: cfg.CorpID,
		RequireEncryption: true, MaxSkew: cfg.MaxSkew, Now: now,
	})
	if err != nil {
		return nil, err
	}
	a := &Account{ch: ch, cfg: cfg, src: normalize.Source{Channel: Kind, Account: cfg.ID}, crypter: crypter,
		keys: keys{prefix: ch.deps.Keys.Prefix, account: cfg.ID}}
	if ch.deps.Redis == nil {
		return a, nil
	}
	httpCfg := apiclient.Config{APIBase: cfg.APIBase, Timeout: cfg.Timeout}
	plain, err := apiclient.New(apiclient.WeCom, httpCfg, nil)
	if err != nil {
		return nil, err
	}
	// The 微信客服 secret has its own token, apart from any app's (PROTOCOLS.md §3.3).
	key := wxtoken.WeComKey(ch.deps.Keys.Prefix, cfg.CorpID, "kf")
	tokens, err := wxtoken.NewStore(ch.deps.Redis, key, wxtoken.WeCom(plain, cfg.CorpID, cfg.Secret), wxtoken.Config{Now: now})
	if err != nil {
		return nil, err
	}
	client, err := apiclient.New(apiclient.WeCom, httpCfg, tokens)
	if err != nil {
		return nil, err
	}
	a.api = apiclient.NewKFAPI(client)
	a.windows = window.New(ch.deps.Redis, ch.deps.Batch, ch.deps.Keys.Window(), now)
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

// Account returns the account with id.
func (ch *Channel) Account(id string) (*Account, bool) {
	a, ok := ch.accounts[id]
	return a, ok
}

// Mount adds GET and POST /wecom/kf/{id}.
func (ch *Channel) Mount(r fiber.Router) {
	r.Get("/wecom/kf/:id", ch.verifyURL)
	r.Post("/wecom/kf/:id", ch.callback)
}

// Tasks returns the sync_msg worker.
func (ch *Channel) Tasks() map[string]asynq.Handler {
	return map[string]asynq.Handler{TypeSync: asynq.HandlerFunc(ch.processSync)}
}

// Channel names the kind.
func (a *Account) Channel() string { return Kind }

// Account is the configured id.
func (a *Account) Account() string { return a.cfg.ID }

// Capabilities of 微信客服: text up to 2048 bytes, always sent actively.
//
// No MergeWindow: the sync worker hands a customer's messages to the router
// one at a time, each after the previous turn finished, so they are answered
// in order. With a merge window every message would wait it out alone (the
// next is not handed over until the turn ends), adding latency and merging
// nothing; and handing a page's messages over at once would let the router's
// goroutines join the burst in any order. Merging 微信客服 bursts in order
// needs an ordered batch hand-over from the router.
func (a *Account) Capabilities() adapters.Capabilities {
	return adapters.Capabilities{MaxTextBytes: MaxTextBytes, RoutingMeta: []string{wxmsg.MetaOpenKfID}}
}

// ConversationID is the conversation key of a customer (external_userid) of
// a kf account (open_kfid) under account: "wecom_kf:<account>:<open_kfid>/<external_userid>".
func ConversationID(account, openKfID, externalUserID string) string {
	return normalize.Source{Channel: Kind, Account: account}.ConversationID(openKfID + "/" + externalUserID)
}

// ParseConversationID splits a wecom_kf conversation id into its account,
// open_kfid and external_userid.
func ParseConversationID(conv string) (account, openKfID, externalUserID string, ok bool) {
	rest, ok := strings.CutPrefix(conv, Kind+":")
	if !ok {
		return "", "", "", false
	}
	account, peer, ok := strings.Cut(rest, ":")
	if !ok {
		return "", "", "", false
	}
	openKfID, externalUserID, ok = strings.Cut(peer, "/")
	if !ok || account == "" || openKfID == "" || externalUserID == "" {
		return "", "", "", false
	}
	return account, openKfID, externalUserID, true
}

// keys names the account's Redis keys. The sync keys of one kf account share
// a {hash tag}, so they live in one Cluster slot.
//
//	kf:{<account>:<open_kfid>}:cursor   sync_msg cursor, written after each dispatched page
//	kf:{<account>:<open_kfid>}:token    latest callback token (10 min)
//	kf:{<account>:<open_kfid>}:seq      callbacks received (INCR)
//	kf:{<account>:<open_kfid>}:synced   seq value the last complete pull covered
//	kf:{<account>:<open_kfid>}:lock     one puller at a time
//	kf:state:<account>:<open_kfid>/<external_userid>   cached session state "<state>:<servicer>"
//	kf:lastkf:<account>:<external_userid>              the kf account the customer last wrote to
//	kf:code:<account>:<welcome_code>                   a welcome_code already used
type keys struct {
	prefix, account string
}

func (k keys) sync(openKfID, what string) string {
	return k.prefix + "kf:{" + k.account + ":" + openKfID + "}:" + what
}

func (k keys) state(openKfID, user string) string {
	return k.prefix + "kf:state:" + k.account + ":" + openKfID + "/" + user
}

func (k keys) lastKf(user string) string { return k.prefix + "kf:lastkf:" + k.account + ":" + user }

func (k keys) code(code string) string { return k.prefix + "kf:code:" + k.account + ":" + code }
