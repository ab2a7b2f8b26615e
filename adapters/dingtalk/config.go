package dingtalk

import (
	"regexp"
	"time"

	"github.com/kefu-gateway/kefu/adapters/internal/apiclient"
	"github.com/kefu-gateway/kefu/adapters/internal/dingmsg"
	"github.com/kefu-gateway/kefu/internal/config"
)

// Receive modes of a robot (DingTalk developer console → 机器人 → 消息接收模式).
const (
	ModeHTTP   = "http"
	ModeStream = "stream"
)

// AccountConfig is one entry of `channels.dingtalk`: an enterprise internal
// robot (企业内部应用机器人).
type AccountConfig struct {
	// ID names the account (in the HTTP callback URL /dingtalk/{id}). REQUIRED.
	ID string `yaml:"id"`
	// AppKey and AppSecret are the app's credentials (Client ID / Client
	// Secret): the secret signs HTTP callbacks, both fetch the OpenAPI access
	// token and open stream connections. REQUIRED.
	AppKey    string `yaml:"app_key"`
	AppSecret string `yaml:"app_secret"`
	// RobotCode is the robot's code for OpenAPI sends; empty = the robotCode
	// of the callbacks, else the AppKey (an internal app's robot code is its
	// AppKey — a convention, not found in an authoritative source).
	RobotCode string `yaml:"robot_code"`
	// Mode is how messages arrive: http (DingTalk POSTs to /dingtalk/{id})
	// or stream (kefu keeps a WebSocket open to DingTalk).
	Mode string `yaml:"mode"`
	// APIBase replaces the host of every outbound HTTP call — the OpenAPI
	// (https://api.dingtalk.com), session webhooks and the stream gateway's
	// connections/open (CONTRACT.md "api_base"); empty = DingTalk's hosts.
	// The stream WebSocket is dialed at the endpoint the gateway returns.
	APIBase string `yaml:"api_base"`
	// Timeout bounds each outbound API call.
	Timeout time.Duration `yaml:"timeout"`
	// SignWindow is how far an HTTP callback's timestamp may be from the
	// local clock; DingTalk says to refuse beyond one hour (PROTOCOLS.md §4.1).
	SignWindow time.Duration `yaml:"sign_window"`
	// WebhookMargin stops using a message's sessionWebhook this long before
	// it expires; the robot OpenAPI is used after that.
	WebhookMargin time.Duration `yaml:"webhook_margin"`
	// MergeWindow merges a burst of short texts from one member into one
	// turn: each text waits this long for the next, and the last answers for
	// all (adapters.Capabilities.MergeWindow). 0 answers every text alone.
	MergeWindow time.Duration `yaml:"merge_window"`
	// Stream tunes the stream-mode connection.
	Stream StreamConfig `yaml:"stream"`
}

// StreamConfig tunes the stream connection (PROTOCOLS.md §4.2).
type StreamConfig struct {
	// ReconnectMin and ReconnectMax bound the delay before reconnecting: it
	// doubles after each failed attempt, with jitter, and starts over once a
	// connection has stayed up for ReconnectMax.
	ReconnectMin time.Duration `yaml:"reconnect_min"`
	ReconnectMax time.Duration `yaml:"reconnect_max"`
	// PingInterval is how often kefu pings the server; a connection that
	// answers nothing (no frame, no pong) for PingInterval + PongTimeout is
	// dropped and reconnected.
	PingInterval time.Duration `yaml:"ping_interval"`
	PongTimeout  time.Duration `yaml:"pong_timeout"`
	// HandshakeTimeout bounds the WebSocket handshake.
	HandshakeTimeout time.Duration `yaml:"handshake_timeout"`
}

// DefaultTimeout bounds outbound calls when the configuration does not.
const DefaultTimeout = 10 * time.Second

func defaultAccount() AccountConfig {
	return AccountConfig{
		Mode:          ModeHTTP,
		Timeout:       DefaultTimeout,
		SignWindow:    dingmsg.DefaultSignWindow,
		WebhookMargin: time.Minute,
		MergeWindow:   1500 * time.Millisecond,
		Stream: StreamConfig{
			ReconnectMin: time.Second, ReconnectMax: time.Minute,
			PingInterval: 30 * time.Second, PongTimeout: 10 * time.Second, HandshakeTimeout: 10 * time.Second,
		},
	}
}

var idPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// Validate checks one account.
func (c *AccountConfig) Validate() error {
	var errs []error
	if !idPattern.MatchString(c.ID) {
		errs = append(errs, config.Errorf("id", "REQUIRED: 1-64 letters, digits, '-' or '_' (got %q)", c.ID))
	}
	if c.AppKey == "" || len(c.AppKey) > 128 {
		errs = append(errs, config.Errorf("app_key", "REQUIRED: the app's AppKey (Client ID)"))
	}
	if c.AppSecret == "" {
		errs = append(errs, config.Errorf("app_secret", "REQUIRED: the app's AppSecret (Client Secret)"))
	}
	if len(c.RobotCode) > 128 {
		errs = append(errs, config.Errorf("robot_code", "longer than 128 characters"))
	}
	if c.Mode != ModeHTTP && c.Mode != ModeStream {
		errs = append(errs, config.Errorf("mode", "must be http or stream (got %q)", c.Mode))
	}
	if err := (apiclient.Config{APIBase: c.APIBase}).Validate(); err != nil {
		errs = append(errs, config.Errorf("api_base", "%v", err))
	}
	if c.Timeout < 100*time.Millisecond || c.Timeout > 2*time.Minute {
		errs = append(errs, config.Errorf("timeout", "must be between 100ms and 2m (got %s)", c.Timeout))
	}
	if c.SignWindow < time.Minute || c.SignWindow > dingmsg.DefaultSignWindow {
		errs = append(errs, config.Errorf("sign_window", "must be between 1m and 1h (got %s)", c.SignWindow))
	}
	if c.WebhookMargin < 0 || c.WebhookMargin > 30*time.Minute {
		errs = append(errs, config.Errorf("webhook_margin", "must be between 0 and 30m (got %s)", c.WebhookMargin))
	}
	if c.MergeWindow < 0 || c.MergeWindow > 10*time.Second {
		errs = append(errs, config.Errorf("merge_window", "must be between 0 and 10s (got %s)", c.MergeWindow))
	}
	s := c.Stream
	if s.ReconnectMin < 10*time.Millisecond {
		errs = append(errs, config.Errorf("stream.reconnect_min", "must be at least 10ms (got %s)", s.ReconnectMin))
	}
	if s.ReconnectMax < s.ReconnectMin {
		errs = append(errs, config.Errorf("stream.reconnect_max", "must be at least reconnect_min"))
	}
	if s.PingInterval < 100*time.Millisecond || s.PingInterval > 10*time.Minute {
		errs = append(errs, config.Errorf("stream.ping_interval", "must be between 100ms and 10m (got %s)", s.PingInterval))
	}
	if s.PongTimeout < 100*time.Millisecond {
		errs = append(errs, config.Errorf("stream.pong_timeout", "must be at least 100ms (got %s)", s.PongTimeout))
	}
	if s.HandshakeTimeout < 100*time.Millisecond {
		errs = append(errs, config.Errorf("stream.handshake_timeout", "must be at least 100ms (got %s)", s.HandshakeTimeout))
	}
	return config.Join(errs...)
}

// robotCode is the code OpenAPI sends use when a message names none.
func (c *AccountConfig) robotCode() string {
	if c.RobotCode != "" {
		return c.RobotCode
	}
	return c.AppKey
}
