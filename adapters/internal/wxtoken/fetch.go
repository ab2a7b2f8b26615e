package wxtoken

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/kefu-gateway/kefu/adapters/internal/apiclient"
	"github.com/kefu-gateway/kefu/internal/clock"
)

// Token is an access token and how long the platform says it lives.
type Token struct {
	Value     string
	ExpiresIn time.Duration
}

// Fetcher gets a new token from the platform.
type Fetcher interface {
	// Fetch returns a fresh token. rejected is the token the platform has
	// just refused, or "" for an ordinary refresh; fetchers that can force a
	// new token (stable_token) do so when the platform hands rejected back.
	Fetch(ctx context.Context, rejected string) (Token, error)
}

// FetcherFunc adapts a function to Fetcher.
type FetcherFunc func(ctx context.Context, rejected string) (Token, error)

// Fetch implements Fetcher.
func (f FetcherFunc) Fetch(ctx context.Context, rejected string) (Token, error) {
	return f(ctx, rejected)
}

// ErrEmptyToken reports a token response without a token.
var ErrEmptyToken = errors.New("token response carries no token")

// defaultLifetime applies when a platform omits the lifetime: 7200 s is what
// WeChat, WeCom and DingTalk document (PROTOCOLS.md §1.7, §3.2).
const defaultLifetime = 7200 * time.Second

func token(value string, seconds int64) (Token, error) {
	if value == "" {
		return Token{}, ErrEmptyToken
	}
	life := clock.Seconds(seconds)
	if life <= 0 {
		life = defaultLifetime
	}
	return Token{Value: value, ExpiresIn: life}, nil
}

type wechatTokenResponse struct {
	AccessToken string `json:"access_token"`
	ExpiresIn   int64  `json:"expires_in"`
}

// WeChatCredential fetches official-account / mini-program tokens with
// GET /cgi-bin/token?grant_type=client_credential&appid&secret. Each call
// issues a new token. c is a token-less client of the account (same api_base).
func WeChatCredential(c *apiclient.Client, appID, secret string) Fetcher {
	return FetcherFunc(func(ctx context.Context, _ string) (Token, error) {
		var out wechatTokenResponse
		q := url.Values{"grant_type": {"client_credential"}, "appid": {appID}, "secret": {secret}}
		if err := c.Do(ctx, apiclient.Request{Path: "/cgi-bin/token", Query: q, NoToken: true}, &out); err != nil {
			return Token{}, fmt.Errorf("fetching wechat access token: %w", err)
		}
		return token(out.AccessToken, out.ExpiresIn)
	})
}

// WeChatStable fetches with POST /cgi-bin/stable_token. In normal mode the
// platform returns the same token while it is valid; when that is exactly the
// token just rejected, the fetch is repeated with force_refresh, which is
// limited (20 a day, 30 s apart) and therefore used only then
// (PROTOCOLS.md §1.7).
func WeChatStable(c *apiclient.Client, appID, secret string) Fetcher {
	fetch := func(ctx context.Context, force bool) (Token, error) {
		body := map[string]any{"grant_type": "client_credential", "appid": appID, "secret": secret, "force_refresh": force}
		var out wechatTokenResponse
		if err := c.Do(ctx, apiclient.Request{Path: "/cgi-bin/stable_token", Body: body, NoToken: true}, &out); err != nil {
			return Token{}, fmt.Errorf("fetching wechat stable access token: %w", err)
		}
		return token(out.AccessToken, out.ExpiresIn)
	}
	return FetcherFunc(func(ctx context.Context, rejected string) (Token, error) {
		t, err := fetch(ctx, false)
		if err != nil || rejected == "" || t.Value != rejected {
			return t, err
		}
		return fetch(ctx, true)
	})
}

// WeCom fetches WeCom tokens with GET /cgi-bin/gettoken?corpid&corpsecret.
// Every secret (each app's, the 微信客服 one) has its own token and needs its
// own Store key (PROTOCOLS.md §3.3).
func WeCom(c *apiclient.Client, corpID, secret string) Fetcher {
	return FetcherFunc(func(ctx context.Context, _ string) (Token, error) {
		var out wechatTokenResponse
		q := url.Values{"corpid": {corpID}, "corpsecret": {secret}}
		if err := c.Do(ctx, apiclient.Request{Path: "/cgi-bin/gettoken", Query: q, NoToken: true}, &out); err != nil {
			return Token{}, fmt.Errorf("fetching wecom access token: %w", err)
		}
		return token(out.AccessToken, out.ExpiresIn)
	})
}

// DingTalk fetches enterprise-internal app tokens with POST
// /v1.0/oauth2/accessToken {appKey, appSecret} -> {accessToken, expireIn}.
func DingTalk(c *apiclient.Client, appKey, appSecret string) Fetcher {
	return FetcherFunc(func(ctx context.Context, _ string) (Token, error) {
		var out struct {
			AccessToken string `json:"accessToken"`
			ExpireIn    int64  `json:"expireIn"`
		}
		body := map[string]string{"appKey": appKey, "appSecret": appSecret}
		if err := c.Do(ctx, apiclient.Request{Path: "/v1.0/oauth2/accessToken", Body: body, NoToken: true}, &out); err != nil {
			return Token{}, fmt.Errorf("fetching dingtalk access token: %w", err)
		}
		return token(out.AccessToken, out.ExpireIn)
	})
}

// DefaultPrefix is kefu's Redis key prefix (DESIGN.md "State in Redis").
const DefaultPrefix = "kefu:"

// WeChatKey is the Store key of an official account's or mini-program's
// token; stable and client_credential tokens are kept apart.
func WeChatKey(prefix, appID string, stable bool) string {
	kind := "credential"
	if stable {
		kind = "stable"
	}
	return prefix + "token:wechat:" + kind + ":" + appID
}

// WeComKey is the Store key of a WeCom secret's token: app is the AgentID of
// a self-built app, or "kf" for the 微信客服 secret.
func WeComKey(prefix, corpID, app string) string {
	return prefix + "token:wecom:" + corpID + ":" + app
}

// DingTalkKey is the Store key of a DingTalk app's token.
func DingTalkKey(prefix, appKey string) string { return prefix + "token:dingtalk:" + appKey }
