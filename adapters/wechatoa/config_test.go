package wechatoa

import (
	"strings"
	"testing"
	"time"

	"github.com/kefu-gateway/kefu/adapters"
	"gopkg.in/yaml.v3"
)

const validAccount = `
- id: shop
  app_id: wx1234567890abcdef
  app_secret: s3cr3t-app-secret-value
  token: tok3nValue
  encoding_aes_key: abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG
  verified: true
`

func build(t *testing.T, src string) (adapters.Channel, error) {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatal(err)
	}
	return New(adapters.Deps{ConfigFile: "kefu.yaml"}, &doc, "channels.wechat_oa")
}

func TestConfigDefaults(t *testing.T) {
	ch, err := build(t, validAccount)
	if err != nil {
		t.Fatal(err)
	}
	a := ch.Adapters()[0].(*Account)
	c := a.cfg
	if c.PassiveBudget != 4*time.Second || !c.Typing || !c.StableToken || c.Encryption != "auto" || c.APITimeout != 10*time.Second ||
		c.MaxSkew != 5*time.Minute || c.DeferredHint == "" || c.TemplateFallback.MaxValueRunes != 20 || c.MergeWindow != 1500*time.Millisecond {
		t.Fatalf("defaults: %+v", c)
	}
	if caps := a.Capabilities(); caps.MaxTextBytes != 2048 || caps.PassiveBudget != 4*time.Second || caps.MergeWindow != 1500*time.Millisecond || caps.Buttons || caps.Markdown {
		t.Fatalf("capabilities of a verified account: %+v", caps)
	}
	ch, err = build(t, "- { id: sub, app_id: wx1, token: abc }")
	if err != nil {
		t.Fatalf("an unverified plain account needs no secret or key: %v", err)
	}
	if caps := ch.Adapters()[0].Capabilities(); caps.MaxTextBytes != 2048-len(DefaultMoreHint)-1 {
		t.Fatalf("unverified MaxTextBytes %d, want room for the more hint", caps.MaxTextBytes)
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"no id", "- { app_id: wx1, token: abc }", "channels.wechat_oa[0].id: REQUIRED"},
		{"bad token", "- { id: a, app_id: wx1, token: 'a b' }", "channels.wechat_oa[0].token: REQUIRED"},
		{"verified needs a secret", "- { id: a, app_id: wx1, token: abc, verified: true }", "app_secret: REQUIRED"},
		{"short key", "- { id: a, app_id: wx1, token: abc, encoding_aes_key: tooShortKeyValue }", "encoding_aes_key: must be the console's 43"},
		{"safe needs a key", "- { id: a, app_id: wx1, token: abc, encryption: safe }", "encoding_aes_key: REQUIRED with encryption: safe"},
		{"unknown mode", "- { id: a, app_id: wx1, token: abc, encryption: aes }", "encryption: must be auto, plain, compatible or safe"},
		{"budget at 5s", "- { id: a, app_id: wx1, token: abc, passive_budget: 5s }", "passive_budget: must be between 100ms and 4.5s"},
		{"bad api_base", "- { id: a, app_id: wx1, token: abc, api_base: 'ftp://x' }", "api_base: must be an http(s) origin"},
		{"skew too small", "- { id: a, app_id: wx1, token: abc, max_skew: 5s }", "max_skew: must be between 30s"},
		{"merge eats the budget", "- { id: a, app_id: wx1, token: abc, passive_budget: 2s, merge_window: 1500ms }", "merge_window: must leave the answer at least 1s"},
		{"fallback needs fields", "- { id: a, app_id: wx1, app_secret: x, token: abc, verified: true, template_fallback: { template_id: T } }", "template_fallback.fields: REQUIRED"},
		{"fallback needs verified", "- { id: a, app_id: wx1, token: abc, template_fallback: { template_id: T, fields: { a: b } } }", "needs verified: true"},
		{"unverified hint", "- { id: a, app_id: wx1, token: abc, deferred_hint: '' }", "deferred_hint: must not be empty"},
		{"unknown key", "- { id: a, app_id: wx1, token: abc, verifed: true }", `unknown key (did you mean "verified"?)`},
		{"duplicate id", "- { id: a, app_id: wx1, token: abc }\n- { id: a, app_id: wx2, token: abc }", `duplicate account id "a"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := build(t, tt.src)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
			if !strings.Contains(err.Error(), "kefu.yaml:") {
				t.Fatalf("error %q does not point at the file", err)
			}
		})
	}
}

// Configuration errors never echo a secret.
func TestConfigErrorsHideSecrets(t *testing.T) {
	src := "- { id: a, app_id: wx1, app_secret: TopSecretValue, token: 'bad token!', encoding_aes_key: secretButWrongKey, verified: true }"
	_, err := build(t, src)
	if err == nil {
		t.Fatal("want errors")
	}
	for _, secret := range []string{"TopSecretValue", "bad token!", "secretButWrongKey"} {
		if strings.Contains(err.Error(), secret) {
			t.Fatalf("error %q shows a secret", err)
		}
	}
}
