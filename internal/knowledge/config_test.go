package knowledge

import (
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func TestConfigYAML(t *testing.T) {
	var c Config
	err := yaml.Unmarshal([]byte(`
dir: kb
reload_interval: 5s
embed_timeout: 1500ms
policy: { answer_threshold: 0.5, clarify_threshold: 0.2, unknown_text: 没听懂 }
misses: { handoff_after: 3 }
hybrid: { vector_weight: 0.4 }
gaps: { max_entries: 100 }
`), &c)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	d := c.WithDefaults()
	if d.Dir != "kb" || d.ReloadInterval != 5*time.Second || d.EmbedTimeout != 1500*time.Millisecond ||
		d.Policy.AnswerThreshold != 0.5 || d.Policy.UnknownText != "没听懂" || d.Policy.Margin != DefaultMargin ||
		d.Misses.HandoffAfter != 3 || d.Hybrid.VectorWeight != 0.4 || d.Gaps.MaxEntries != 100 || d.TopK != DefaultTopK {
		t.Fatalf("decoded %+v", d)
	}
}
