package llm

import (
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func TestConfigYAML(t *testing.T) {
	var c Config
	err := yaml.Unmarshal([]byte(`
base_url: http://127.0.0.1:11434/v1
api_key: k
model: qwen2.5
timeout: 8s
temperature: 0
max_tokens: 300
system_prompt: 你是小美
retries: -1
embedding_model: bge-m3
breaker_failures: 3
breaker_cooldown: 1m
stream_usage: false
`), &c)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	d := c.WithDefaults()
	if d.Model != "qwen2.5" || d.Timeout != 8*time.Second || *d.Temperature != 0 || d.MaxTokens != 300 ||
		d.Retries != 0 || d.EmbeddingModel != "bge-m3" || d.BreakerCooldown != time.Minute || *d.StreamUsage {
		t.Fatalf("decoded %+v", d)
	}
}
