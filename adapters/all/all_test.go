package all_test

import (
	"strings"
	"testing"

	"github.com/kefu-gateway/kefu/adapters"
	_ "github.com/kefu-gateway/kefu/adapters/all"
	"gopkg.in/yaml.v3"
)

// Every inbound request is verified, and no setting turns that off: the
// switches other bots offer are unknown keys to every channel kind, so a
// configuration carrying one fails at start, naming it.
func TestNoSettingTurnsVerificationOff(t *testing.T) {
	kinds := adapters.Kinds()
	if len(kinds) < 6 {
		t.Fatalf("only %d channel kinds registered: %v", len(kinds), kinds)
	}
	for _, kind := range kinds {
		for _, setting := range []string{"verify_signature: false", "skip_verify: true", "insecure: true",
			"disable_signature_check: true", "check_signature: false"} {
			key, _, _ := strings.Cut(setting, ":")
			var node yaml.Node
			if err := yaml.Unmarshal([]byte("- id: a\n  "+setting+"\n"), &node); err != nil {
				t.Fatal(err)
			}
			err := adapters.Validate("kefu.yaml", map[string]*yaml.Node{kind: node.Content[0]})
			if err == nil || !strings.Contains(err.Error(), key+": unknown key") {
				t.Errorf("%s with %q: %v; want %s refused as an unknown key", kind, setting, err, key)
			}
		}
	}
}
