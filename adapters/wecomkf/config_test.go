package wecomkf

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
	ch, err := New(adapters.Deps{Log: zap.NewNop(), Clock: clock.Real{}, ConfigFile: "kefu.yaml"}, node.Content[0], "channels.wecom_kf")
	if err != nil {
		return nil, err
	}
	return ch.(*Channel), nil
}

func TestConfigDefaults(t *testing.T) {
	ch, err := build(t, testAccounts(""))
	if err != nil {
		t.Fatal(err)
	}
	c := ch.accounts["shop"].cfg
	if c.Timeout != 10*time.Second || c.MaxSkew != 5*time.Minute || c.StateCache != 10*time.Second ||
		c.Sync != (SyncConfig{Limit: 1000, MaxPages: 100, Concurrency: 8, LockTTL: 2 * time.Minute, LockWait: 30 * time.Second}) {
		t.Errorf("defaults = %+v", c)
	}
	if !c.allows("wkAnything") || ch.accounts["filtered"].cfg.allows("wkAnything") || !ch.accounts["filtered"].cfg.allows("wkOnlyThisOne") {
		t.Error("open_kfids filter")
	}
	if ch.accounts["shop"].Capabilities().MaxTextBytes != 2048 {
		t.Error("MaxTextBytes")
	}
}

func TestConfigErrorsNameTheKeyAndLine(t *testing.T) {
	cases := []struct {
		name, yaml string
		want       []string
	}{
		{"empty", "- {}", []string{"channels.wecom_kf[0].id: REQUIRED", "corp_id: REQUIRED", "secret: REQUIRED", "token: REQUIRED", "encoding_aes_key: REQUIRED"}},
		{"bad values", `
- id: shop
  corp_id: ww1
  secret: s
  token: "has space"
  encoding_aes_key: abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG
  open_kfids: ["wk ok?"]
  state_cache: 1h
  sync: { limit: 5000, concurrency: 0, lock_ttl: 1s }`, []string{"kefu.yaml:5: channels.wecom_kf[0].token", "open_kfids[0]", "state_cache", "sync.limit", "sync.concurrency", "sync.lock_ttl"}},
		{"unknown key", `
- id: shop
  agent_id: 5`, []string{"agent_id"}},
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
		})
	}
}
