package wxaccount

import (
	"fmt"
	"time"

	"github.com/kefu-gateway/kefu/adapters/internal/apiclient"
	"github.com/kefu-gateway/kefu/adapters/internal/wxtoken"
	"github.com/redis/go-redis/v9"
)

// NewAPI returns the account's customer-service API client: every call goes
// to api_base with timeout, carrying an access token shared with every
// kefu process through Redis (one refresher; invalidated and retried once on
// 40001/40014/42001). prefix is kefu's Redis key prefix. It does no I/O.
func (c *Common) NewAPI(rdb redis.UniversalClient, prefix string, now func() time.Time) (*apiclient.WeChatAPI, error) {
	httpCfg := apiclient.Config{APIBase: c.APIBase, Timeout: c.APITimeout}
	tokenClient, err := apiclient.New(apiclient.WeChat, httpCfg, nil)
	if err != nil {
		return nil, fmt.Errorf("configuring account %s: %w", c.ID, err)
	}
	fetch := wxtoken.WeChatCredential(tokenClient, c.AppID, c.AppSecret)
	if c.StableToken {
		fetch = wxtoken.WeChatStable(tokenClient, c.AppID, c.AppSecret)
	}
	// The refresh lock must outlive a fetch (which may call twice with
	// stable tokens) so no second process refreshes meanwhile.
	store, err := wxtoken.NewStore(rdb, wxtoken.WeChatKey(prefix, c.AppID, c.StableToken), fetch,
		wxtoken.Config{LockTTL: 2*c.APITimeout + 5*time.Second, Now: now})
	if err != nil {
		return nil, fmt.Errorf("configuring account %s: %w", c.ID, err)
	}
	client, err := apiclient.New(apiclient.WeChat, httpCfg, store)
	if err != nil {
		return nil, fmt.Errorf("configuring account %s: %w", c.ID, err)
	}
	return apiclient.NewWeChatAPI(client), nil
}
