package apiclient_test

import (
	"context"
	"fmt"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/kefu-gateway/kefu/adapters/internal/apiclient"
)

// testTokens is a minimal in-memory TokenSource that fetches from a fake's
// token endpoint; the Redis-backed one is wxtoken.Store.
type testTokens struct {
	mu          sync.Mutex
	fetch       func(ctx context.Context) (string, error)
	current     string
	invalidated []string
}

func (s *testTokens) Token(ctx context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.current == "" {
		tok, err := s.fetch(ctx)
		if err != nil {
			return "", err
		}
		s.current = tok
	}
	return s.current, nil
}

func (s *testTokens) Invalidate(_ context.Context, token string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.invalidated = append(s.invalidated, token)
	if s.current == token {
		s.current = ""
	}
	return nil
}

var _ apiclient.TokenSource = (*testTokens)(nil)

func newClient(t *testing.T, p apiclient.Platform, base string, tokens apiclient.TokenSource) *apiclient.Client {
	t.Helper()
	c, err := apiclient.New(p, apiclient.Config{APIBase: base, Timeout: 2 * time.Second}, tokens)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// wechatTokens fetches client_credential tokens from base.
func wechatTokens(t *testing.T, base, appID, secret string) *testTokens {
	c := newClient(t, apiclient.WeChat, base, nil)
	return &testTokens{fetch: func(ctx context.Context) (string, error) {
		var out struct {
			AccessToken string `json:"access_token"`
		}
		q := url.Values{"grant_type": {"client_credential"}, "appid": {appID}, "secret": {secret}}
		err := c.Do(ctx, apiclient.Request{Path: "/cgi-bin/token", Query: q, NoToken: true}, &out)
		return out.AccessToken, err
	}}
}

// wecomTokens fetches gettoken tokens from base.
func wecomTokens(t *testing.T, base, corpID, secret string) *testTokens {
	c := newClient(t, apiclient.WeCom, base, nil)
	return &testTokens{fetch: func(ctx context.Context) (string, error) {
		var out struct {
			AccessToken string `json:"access_token"`
		}
		q := url.Values{"corpid": {corpID}, "corpsecret": {secret}}
		err := c.Do(ctx, apiclient.Request{Path: "/cgi-bin/gettoken", Query: q, NoToken: true}, &out)
		return out.AccessToken, err
	}}
}

// dingTokens fetches OAuth tokens from base.
func dingTokens(t *testing.T, base, key, secret string) *testTokens {
	c := newClient(t, apiclient.DingTalk, base, nil)
	return &testTokens{fetch: func(ctx context.Context) (string, error) {
		var out struct {
			AccessToken string `json:"accessToken"`
		}
		err := c.Do(ctx, apiclient.Request{Path: "/v1.0/oauth2/accessToken", Body: map[string]string{"appKey": key, "appSecret": secret}, NoToken: true}, &out)
		if err == nil && out.AccessToken == "" {
			err = fmt.Errorf("no token")
		}
		return out.AccessToken, err
	}}
}
