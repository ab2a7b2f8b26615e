package app

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/kefu-gateway/kefu/adapters/web"
	"go.uber.org/zap"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestShippedConfigIsValid(t *testing.T) {
	root := filepath.Join("..", "..")
	cfg, err := LoadConfig(filepath.Join(root, "configs", "kefu.yaml"), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HTTP.Addr != ":8080" || cfg.Redis.URL != "" || cfg.LLM.BaseURL != "" {
		t.Errorf("demo config: addr %q redis %q llm %q", cfg.HTTP.Addr, cfg.Redis.URL, cfg.LLM.BaseURL)
	}
	if _, ok := cfg.Channels["web"]; !ok {
		t.Error("demo config has no web site")
	}
}

func TestEmptyConfigGetsDefaults(t *testing.T) {
	for _, body := range []string{"", "# nothing\n", "http:\n", "channels:\n  web: []\n", "channels:\n  web:\n"} {
		cfg, err := ParseConfig("empty.yaml", []byte(body), env(nil))
		if err != nil {
			t.Fatalf("%q: %v", body, err)
		}
		if cfg.HTTP.Addr != ":8080" || cfg.HTTP.BodyLimit != 1<<20 || cfg.LLM.Timeout != 20*time.Second {
			t.Errorf("%q: defaults not applied: %+v", body, cfg.HTTP)
		}
	}
}

func TestEnvironmentOverridesAlwaysWin(t *testing.T) {
	body := "http: { addr: ':1' }\nredis: { url: 'redis://file:6379' }\nllm: { base_url: 'http://file/v1', model: m }\n"
	cfg, err := ParseConfig("c.yaml", []byte(body), env(map[string]string{
		"KEFU_HTTP_ADDR": "127.0.0.1:9090", "KEFU_REDIS_URL": "redis://env:6379/2",
		"KEFU_LLM_BASE_URL": "http://env/v1", "KEFU_LLM_API_KEY": "sk-from-env", "KEFU_LLM_MODEL": "qwen-plus",
		"KEFU_ADMIN_TOKEN": "0123456789abcdef0123",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HTTP.Addr != "127.0.0.1:9090" || cfg.Redis.URL != "redis://env:6379/2" || cfg.LLM.BaseURL != "http://env/v1" ||
		cfg.LLM.APIKey != "sk-from-env" || cfg.LLM.Model != "qwen-plus" || cfg.Admin.Token != "0123456789abcdef0123" {
		t.Errorf("overrides not applied: %+v %+v %+v %+v", cfg.HTTP, cfg.Redis, cfg.LLM, cfg.Admin)
	}
}

func TestBadConfigNamesTheKey(t *testing.T) {
	cases := []struct{ body, want string }{
		{"http:\n  addr: nonsense\n", `c.yaml:2: http.addr: must be host:port`},
		{"redis:\n  url: http://x\n", `c.yaml:2: redis.url: scheme must be redis`},
		{"redis:\n  mode: galaxy\n", `c.yaml:2: redis.mode: must be auto`},
		{"llm:\n  base_url: notaurl\n", `c.yaml:2: llm.base_url: must be an http(s) URL`},
		{"http:\n  header_limit: 100\n", `c.yaml:2: http.header_limit: must be between 4096 and 1048576`},
		{"router:\n  dedup_ttl: 1m\n", `c.yaml:2: router.dedup_ttl: must be at least 1h`},
		{"channels:\n  wechat_xx: []\n", `c.yaml:2: channels.wechat_xx: unknown channel kind`},
		{"channels:\n  web:\n    - id: a\n      colour: red\n", `c.yaml:4: channels.web[0].colour: unknown key (did you mean "color"?)`},
		{"channels:\n  web:\n    - id: a\n    - id: a\n", `c.yaml:4: channels.web[1].id: duplicate account id "a"`},
		{"channels:\n  web:\n    - id: a\n      allowed_origins: [shop.example.com]\n", `channels.web[0].allowed_origins[0]: must be an origin`},
		{"http: [1, 2]\n", `c.yaml:1: http: cannot use !!seq into app.HTTPConfig`},
		{"http:\n  addr: \"x\n", `c.yaml:`},
		{"- just\n- a list\n", `c.yaml:1: the configuration must be a mapping`},
		{"llm:\n  api_key: ${UNSET_KEY}\n", `c.yaml:2: llm.api_key: environment variable UNSET_KEY is not set`},
	}
	for _, tc := range cases {
		_, err := ParseConfig("c.yaml", []byte(tc.body), env(nil))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("config %q:\n got %v\nwant %q", tc.body, err, tc.want)
		}
	}
}

func TestSecretsAreNotEchoedInErrors(t *testing.T) {
	_, err := ParseConfig("c.yaml", []byte("redis:\n  url: \"redis://:hunter2hunter2@[bad\"\n"), env(nil))
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("error %v must not show the password", err)
	}
}

func TestConfigPathOrder(t *testing.T) {
	if p := ConfigPath("flag.yaml", env(map[string]string{"KEFU_CONFIG": "env.yaml"})); p != "flag.yaml" {
		t.Errorf("flag first: %s", p)
	}
	if p := ConfigPath("", env(map[string]string{"KEFU_CONFIG": "env.yaml"})); p != "env.yaml" {
		t.Errorf("then $KEFU_CONFIG: %s", p)
	}
	if p := ConfigPath("", env(nil)); p != DefaultConfigFile {
		t.Errorf("then the default: %s", p)
	}
	if _, err := LoadConfig(filepath.Join(t.TempDir(), "missing.yaml"), env(nil)); err == nil || !os.IsNotExist(unwrapAll(err)) {
		t.Errorf("missing file: %v", err)
	}
}

func unwrapAll(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return err
		}
		err = u.Unwrap()
	}
}

// A flows or knowledge directory that is not there fails the start, naming
// the key, rather than leaving messages to the fallback.
func TestMissingContentDirFailsTheStart(t *testing.T) {
	root := filepath.Join("..", "..")
	for _, pair := range [][2]string{{"flows", "knowledge"}, {"knowledge", "flows"}} {
		key, other := pair[0], pair[1]
		good := filepath.Join(root, "configs", other)
		for _, dir := range []string{filepath.Join(t.TempDir(), "nowhere"), filepath.Join(root, "configs", "kefu.yaml")} {
			cfg, err := ParseConfig("c.yaml", []byte(key+": { dir: "+dir+" }\n"+other+": { dir: "+good+" }\n"), env(nil))
			if err != nil {
				t.Fatal(err)
			}
			_, err = New(context.Background(), cfg, zap.NewNop(), Options{})
			if err == nil || !strings.Contains(err.Error(), key+".dir: ") || !strings.Contains(err.Error(), dir) {
				t.Errorf("%s.dir %s: got %v, want an error naming the key and the path", key, dir, err)
			}
		}
	}
}
