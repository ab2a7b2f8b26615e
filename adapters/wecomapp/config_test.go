package wecomapp

import (
	"strings"
	"testing"
	"time"

	"github.com/kefu-gateway/kefu/adapters"
	"github.com/kefu-gateway/kefu/internal/clock"
	"go.uber.org/zap"
	"gopkg.in/yaml.v3"
)

func build(t *testing.T, accounts string) (*Channel, error) {
	t.Helper()
	var node yaml.Node
	if err := yaml.Unmarshal([]byte(accounts), &node); err != nil {
		t.Fatal(err)
	}
	ch, err := New(adapters.Deps{Log: zap.NewNop(), Clock: clock.Real{}, ConfigFile: "kefu.yaml"}, node.Content[0], "channels.wecom_app")
	if err != nil {
		return nil, err
	}
	return ch.(*Channel), nil
}

func TestConfigDefaults(t *testing.T) {
	ch, err := build(t, testAccounts)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := ch.Account("helpdesk")
	c := a.cfg
	if c.Timeout != 10*time.Second || c.MaxSkew != 5*time.Minute || c.RateLimit.PerMinute != 30 || c.RateLimit.PerHour != 1000 ||
		c.RateLimit.MaxWait != 5*time.Second || c.RateLimit.QueueSpacing != 2*time.Second {
		t.Errorf("defaults = %+v", c)
	}
	if a.Capabilities().MaxTextBytes != 2048 {
		t.Errorf("MaxTextBytes = %d", a.Capabilities().MaxTextBytes)
	}
}

func TestConfigErrorsNameTheKeyAndLine(t *testing.T) {
	cases := []struct {
		name, yaml string
		want       []string
	}{
		{"empty account", "- {}", []string{"channels.wecom_app[0].id: REQUIRED", "corp_id: REQUIRED", "agent_id: REQUIRED", "secret: REQUIRED", "token: REQUIRED", "encoding_aes_key: REQUIRED"}},
		{"bad key", `
- id: a
  corp_id: ww1
  agent_id: 1
  secret: s
  token: t
  encoding_aes_key: tooshort`, []string{"kefu.yaml:7: channels.wecom_app[0].encoding_aes_key", "43 characters"}},
		{"bad api_base", `
- id: a
  corp_id: ww1
  agent_id: 1
  secret: s
  token: t
  encoding_aes_key: abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG
  api_base: ftp://x`, []string{"api_base"}},
		{"unknown key", `
- id: a
  agentid: 1`, []string{"agentid", "agent_id"}},
		{"limits", `
- id: a
  corp_id: ww1
  agent_id: 1
  secret: s
  token: t
  encoding_aes_key: abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG
  max_skew: 0s
  rate_limit: { per_minute: 0, max_wait: 5m }`, []string{"max_skew", "rate_limit.per_minute", "rate_limit.max_wait"}},
		{"duplicate id", testAccounts + `
- id: helpdesk
  corp_id: ww1
  agent_id: 1
  secret: s
  token: t
  encoding_aes_key: abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG`, []string{`duplicate account id "helpdesk"`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := build(t, tc.yaml)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			if strings.Contains(err.Error(), "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG") {
				t.Error("the error echoes a secret")
			}
		})
	}
}
