// Package app assembles kefu from its configuration: storage, router,
// channels, workers and the HTTP server, and runs them until shutdown.
package app

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/kefu-gateway/kefu/adapters"
	"github.com/kefu-gateway/kefu/flows"
	"github.com/kefu-gateway/kefu/handoff"
	"github.com/kefu-gateway/kefu/internal/campaign"
	"github.com/kefu-gateway/kefu/internal/config"
	"github.com/kefu-gateway/kefu/internal/contacts"
	"github.com/kefu-gateway/kefu/internal/followup"
	"github.com/kefu-gateway/kefu/internal/knowledge"
	"github.com/kefu-gateway/kefu/internal/llm"
	"github.com/kefu-gateway/kefu/internal/logging"
	"github.com/kefu-gateway/kefu/internal/ratelimit"
	"github.com/kefu-gateway/kefu/internal/store"
	"github.com/kefu-gateway/kefu/router"
	"github.com/kefu-gateway/kefu/workers"
	"gopkg.in/yaml.v3"
)

// DefaultConfigFile is used when neither --config nor $KEFU_CONFIG is given.
const DefaultConfigFile = "configs/kefu.yaml"

// Config is the whole configuration file. Each block is owned by the
// component that uses it; every block is optional.
type Config struct {
	HTTP      HTTPConfig       `yaml:"http"`
	Log       logging.Config   `yaml:"log"`
	Redis     store.Config     `yaml:"redis"`
	Admin     AdminConfig      `yaml:"admin"`
	Router    router.Config    `yaml:"router"`
	Workers   workers.Config   `yaml:"workers"`
	Flows     flows.Config     `yaml:"flows"`
	Knowledge knowledge.Config `yaml:"knowledge"`
	LLM       llm.Config       `yaml:"llm"`
	Demo      DemoConfig       `yaml:"demo"`
	// Channels holds each channel kind's account list, decoded by the kind.
	Channels map[string]yaml.Node `yaml:"channels"`
	// Handoff is decoded by the handoff component.
	Handoff yaml.Node `yaml:"handoff"`
	// Contacts, Followups, Campaigns and RateLimits are decoded by their
	// components (see docs/api.md) into Engage.
	Contacts   yaml.Node `yaml:"contacts"`
	Followups  yaml.Node `yaml:"followups"`
	Campaigns  yaml.Node `yaml:"campaigns"`
	RateLimits yaml.Node `yaml:"rate_limits"`
	Engage     Engage    `yaml:"-"`

	// File is the path the configuration was read from.
	File string `yaml:"-"`
}

// HTTPConfig is the `http:` block.
type HTTPConfig struct {
	// Addr is the listen address.
	Addr string `yaml:"addr"`
	// PublicURL is how customers' browsers and platforms reach kefu
	// (https://kefu.example.com); empty = derived from each request.
	PublicURL string `yaml:"public_url"`
	// BodyLimit is the largest request body accepted, in bytes (413 beyond).
	BodyLimit int `yaml:"body_limit"`
	// HeaderLimit is the largest request line plus headers accepted, in
	// bytes; beyond it the server answers 431 and closes the connection.
	// It is also each connection's read buffer, so it is kept modest.
	HeaderLimit int `yaml:"header_limit"`
	// ReadTimeout, WriteTimeout and IdleTimeout bound one connection.
	// WriteTimeout must exceed the longest long-poll wait (30 s).
	ReadTimeout  time.Duration `yaml:"read_timeout"`
	WriteTimeout time.Duration `yaml:"write_timeout"`
	IdleTimeout  time.Duration `yaml:"idle_timeout"`
	// ShutdownTimeout is how long requests in flight get to finish on SIGTERM.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	// TrustProxy makes kefu use X-Forwarded-For / -Proto from a reverse proxy.
	TrustProxy bool `yaml:"trust_proxy"`
}

// AdminConfig is the `admin:` block (the operator API).
type AdminConfig struct {
	// Token is the bearer token of /admin/api. Empty disables the operator API.
	Token string `yaml:"token"`
}

// DemoConfig is the `demo:` block.
type DemoConfig struct {
	// Shop serves the demo shop's fake order API under /demo/shop/ for the
	// demo flows. Never enable it in production.
	Shop bool `yaml:"shop"`
}

// Defaults returns the configuration used for keys the file leaves out.
func Defaults() Config {
	return Config{
		HTTP: HTTPConfig{
			Addr: ":8080", BodyLimit: 1 << 20, HeaderLimit: 16 << 10,
			ReadTimeout: 15 * time.Second, WriteTimeout: 45 * time.Second, IdleTimeout: 120 * time.Second,
			ShutdownTimeout: 20 * time.Second,
		},
		Log:       logging.Defaults(),
		Redis:     store.Defaults(),
		Router:    router.Defaults(),
		Workers:   workers.Defaults(),
		Flows:     flows.Config{}.WithDefaults(),
		Knowledge: knowledge.Config{}.WithDefaults(),
		LLM:       llm.Config{}.WithDefaults(),
	}
}

// Validate checks every block.
func (c *Config) Validate() error {
	errs := []error{
		config.Within("http", c.HTTP.Validate()),
		config.Within("log", c.Log.Validate()),
		config.Within("redis", c.Redis.Validate()),
		config.Within("router", c.Router.Validate()),
		config.Within("workers", c.Workers.Validate()),
		config.Within("llm", c.LLM.Validate()),
		config.Within("flows", c.Flows.Validate()),
		config.Within("knowledge", c.Knowledge.Validate()),
	}
	if c.Admin.Token != "" && len(c.Admin.Token) < 16 {
		errs = append(errs, config.Errorf("admin.token", "must be at least 16 characters (the value is not shown)"))
	}
	return config.Join(errs...)
}

var addrPattern = regexp.MustCompile(`^[^\s]*:\d{1,5}$`)

// Validate checks the HTTP block.
func (c *HTTPConfig) Validate() error {
	var errs []error
	if !addrPattern.MatchString(c.Addr) {
		errs = append(errs, config.Errorf("addr", "must be host:port or :port (got %q)", c.Addr))
	} else if p, _ := strconv.Atoi(c.Addr[strings.LastIndexByte(c.Addr, ':')+1:]); p > 65535 {
		errs = append(errs, config.Errorf("addr", "port out of range (got %q)", c.Addr))
	}
	if c.PublicURL != "" {
		if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, config.Errorf("public_url", "must be an http(s) URL (got %q)", c.PublicURL))
		}
	}
	if c.BodyLimit < 1024 {
		errs = append(errs, config.Errorf("body_limit", "must be at least 1024 bytes"))
	}
	if c.HeaderLimit < 4096 || c.HeaderLimit > 1<<20 {
		errs = append(errs, config.Errorf("header_limit", "must be between 4096 and 1048576 bytes (got %d)", c.HeaderLimit))
	}
	if c.WriteTimeout < 35*time.Second {
		errs = append(errs, config.Errorf("write_timeout", "must be at least 35s so long-polls (30s) can answer"))
	}
	if c.ReadTimeout < time.Second || c.IdleTimeout < time.Second || c.ShutdownTimeout < time.Second {
		errs = append(errs, config.Errorf("", "read_timeout, idle_timeout and shutdown_timeout must be at least 1s"))
	}
	return config.Join(errs...)
}

// overrides are the environment variables that always override the file.
var overrides = []struct{ env, path string }{
	{"KEFU_HTTP_ADDR", "http.addr"},
	{"KEFU_REDIS_URL", "redis.url"},
	{"KEFU_LLM_BASE_URL", "llm.base_url"},
	{"KEFU_LLM_API_KEY", "llm.api_key"},
	{"KEFU_LLM_MODEL", "llm.model"},
	{"KEFU_ADMIN_TOKEN", "admin.token"},
}

// ConfigPath picks the configuration file: the flag, else $KEFU_CONFIG,
// else configs/kefu.yaml.
func ConfigPath(flag string, lookup func(string) (string, bool)) string {
	if flag != "" {
		return flag
	}
	if v, ok := lookup("KEFU_CONFIG"); ok && v != "" {
		return v
	}
	return DefaultConfigFile
}

// LoadConfig reads, expands, overrides, decodes and validates the file.
// lookup reads the environment (os.LookupEnv when nil). Every problem is
// reported, each as "file:line: key.path: message".
func LoadConfig(path string, lookup func(string) (string, bool)) (*Config, error) {
	if lookup == nil {
		lookup = os.LookupEnv
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading configuration: %w", err)
	}
	return ParseConfig(path, data, lookup)
}

var yamlSyntaxLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// ParseConfig is LoadConfig on bytes already read.
func ParseConfig(path string, data []byte, lookup func(string) (string, bool)) (*Config, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		if m := yamlSyntaxLine.FindStringSubmatch(err.Error()); m != nil {
			return nil, fmt.Errorf("%s:%s: %s", path, m[1], m[2])
		}
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	if root.Kind == 0 {
		root = yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{{Kind: yaml.MappingNode, Tag: "!!map"}}}
	}
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 && root.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s:%d: the configuration must be a mapping of blocks (http:, redis:, channels: ...)", path, root.Content[0].Line)
	}
	if err := config.ExpandEnv(&root, path, lookup); err != nil {
		return nil, err
	}
	for _, o := range overrides {
		if v, ok := lookup(o.env); ok && v != "" {
			setScalar(&root, o.path, v)
		}
	}
	cfg := Defaults()
	if err := config.Decode(&root, &cfg, path, ""); err != nil {
		return nil, err
	}
	cfg.File = path
	if err := adapters.Validate(path, cfg.channelNodes()); err != nil {
		return nil, err
	}
	if err := cfg.decodeComponents(path); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// Engage holds the decoded configuration of contacts, follow-ups,
// campaigns and rate limits.
type Engage struct {
	Contacts   contacts.Config
	Followups  followup.Config
	Campaigns  campaign.Config
	RateLimits ratelimit.Config
	Handoff    handoff.Config
}

// decodeComponents decodes the blocks components own, reporting every
// problem with its file, line and key.
func (c *Config) decodeComponents(file string) error {
	var errs []error
	var err error
	c.Engage.Contacts, err = contacts.DecodeConfig(nodeOrNil(&c.Contacts), file)
	errs = append(errs, err)
	c.Engage.Followups, err = followup.DecodeConfig(nodeOrNil(&c.Followups), file)
	errs = append(errs, err)
	c.Engage.Campaigns, err = campaign.DecodeConfig(nodeOrNil(&c.Campaigns), file)
	errs = append(errs, err)
	c.Engage.RateLimits, err = ratelimit.DecodeConfig(nodeOrNil(&c.RateLimits), file)
	errs = append(errs, err)
	c.Engage.Handoff, err = handoff.LoadConfig(nodeOrNil(&c.Handoff), file)
	errs = append(errs, err)
	return config.Join(errs...)
}

func nodeOrNil(n *yaml.Node) *yaml.Node {
	if n.Kind == 0 {
		return nil
	}
	return n
}

// channelNodes returns each channel kind's configuration node.
func (c *Config) channelNodes() map[string]*yaml.Node {
	nodes := map[string]*yaml.Node{}
	for k := range c.Channels {
		n := c.Channels[k]
		nodes[k] = &n
	}
	return nodes
}

// setScalar sets the string at a dotted path, creating mappings on the way.
func setScalar(root *yaml.Node, path, value string) {
	n := root
	if n.Kind == yaml.DocumentNode {
		n = n.Content[0]
	}
	parts := strings.Split(path, ".")
	for i, p := range parts {
		var next *yaml.Node
		for j := 0; j+1 < len(n.Content); j += 2 {
			if n.Content[j].Value == p {
				next = n.Content[j+1]
				break
			}
		}
		last := i == len(parts)-1
		if next == nil || (!last && next.Kind != yaml.MappingNode) {
			nv := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
			if last {
				nv = &yaml.Node{Kind: yaml.ScalarNode}
			}
			if next != nil {
				*next = *nv
			} else {
				n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: p}, nv)
				next = nv
			}
		}
		if last {
			next.Kind, next.Tag, next.Value, next.Style = yaml.ScalarNode, "!!str", value, yaml.DoubleQuotedStyle
			return
		}
		n = next
	}
}

// ErrNeedsSharedRedis is returned by `kefu worker` on the embedded Redis.
var ErrNeedsSharedRedis = errors.New("kefu worker needs redis.url (or KEFU_REDIS_URL): the embedded Redis lives inside one process and cannot be shared")
