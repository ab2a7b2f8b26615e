package flows

import (
	"fmt"
	"time"

	"github.com/kefu-gateway/kefu/internal/config"
)

// DefaultDir is where kefu looks for flow files when flows.dir is not set:
// the demo shop's folder, relative to where kefu runs.
const DefaultDir = "configs/flows"

// Config is the `flows:` block of kefu.yaml. Every field is optional; zero
// values take the defaults documented in docs/flows.md.
type Config struct {
	// Dir holds the flow files (searched recursively; *_test.yaml files are
	// conversation tests, not flows).
	Dir string `yaml:"dir"`
	// SessionTimeout is how long a question waits for an answer when the
	// question sets no timeout of its own. Default 30m.
	SessionTimeout time.Duration `yaml:"session_timeout"`
	// Reminders are sent while a question without reminders of its own waits.
	// Default: one after 10m (dropped when it would fall after the timeout).
	Reminders []ReminderConfig `yaml:"reminders"`
	// MaxStepsPerTurn is the circuit breaker: a turn that executes more steps
	// than this is stopped and the flow ended. Default 100.
	MaxStepsPerTurn int `yaml:"max_steps_per_turn"`
	// MaxDepth caps nested calls and digressions. Default 8.
	MaxDepth int `yaml:"max_depth"`
	// MaxAttempts is the default number of invalid answers a question accepts
	// before its on_exhausted path runs. Default 3.
	MaxAttempts int `yaml:"max_attempts"`
	// Commands are the global command words, matched exactly (after
	// normalization) from anywhere in any flow.
	Commands Commands `yaml:"commands"`
	// HandoffQueue is the queue the handoff command uses. Empty means the
	// handoff work's default queue.
	HandoffQueue string `yaml:"handoff_queue"`
	// HomeFlow is started by the restart command when no flow is running.
	HomeFlow string `yaml:"home_flow"`
	// Vars are operator constants readable as {{vars.x}}. A value may refer to
	// another var once, as in "{{vars.self_url}}/demo/shop".
	Vars map[string]string `yaml:"vars"`
	// Texts are the engine's own sentences.
	Texts Texts `yaml:"texts"`
	// HTTPTimeout is the timeout of an http step that sets none. Default 5s.
	HTTPTimeout time.Duration `yaml:"http_timeout"`
	// HTTPMaxBody caps a response body in bytes. Default 1 MiB.
	HTTPMaxBody int64 `yaml:"http_max_body"`
	// HTTPRetryBackoff is the pause before an http step's first retry,
	// doubled for each further retry. Default 200ms.
	HTTPRetryBackoff time.Duration `yaml:"http_retry_backoff"`
	// MaxHTTPPerTurn caps the http steps one turn may run. Default 5.
	MaxHTTPPerTurn int `yaml:"max_http_per_turn"`
	// ReloadInterval is how often the watcher looks for edited flow files.
	// Default 2s.
	ReloadInterval time.Duration `yaml:"reload_interval"`
}

// ReminderConfig is a default reminder: After the question was asked, say
// Text (default Texts.Reminder) and repeat the question.
type ReminderConfig struct {
	After time.Duration `yaml:"after"`
	Text  string        `yaml:"text"`
}

// Commands lists the global command words. A non-empty list replaces the
// default for that command.
type Commands struct {
	Handoff []string `yaml:"handoff"` // default 人工, 转人工, 人工客服
	Cancel  []string `yaml:"cancel"`  // default 取消, 退出
	Restart []string `yaml:"restart"` // default 重新开始
}

// Texts are the sentences the engine says on its own. Empty fields take the
// defaults.
type Texts struct {
	Invalid   string `yaml:"invalid"`   // an invalid answer to a question with no invalid text of its own
	Exhausted string `yaml:"exhausted"` // max_attempts reached and no on_exhausted path
	Timeout   string `yaml:"timeout"`   // a question timed out and has no on_timeout path
	Reminder  string `yaml:"reminder"`  // prefix of a default reminder
	Resume    string `yaml:"resume"`    // said before a question is asked again after a digression
	Cancelled string `yaml:"cancelled"` // after the cancel command
	Restarted string `yaml:"restarted"` // after the restart command when no flow runs and no home flow is set
	Handoff   string `yaml:"handoff"`   // said with the handoff command (default: nothing; the handoff work tells the queue position)
	Loop      string `yaml:"loop"`      // the circuit breaker stopped a flow
	HTTPError string `yaml:"http_error"`
	Choose    string `yaml:"choose"` // invalid answer to a choice question
}

// Defaults for Config.
const (
	DefaultSessionTimeout  = 30 * time.Minute
	DefaultReminderAfter   = 10 * time.Minute
	DefaultMaxStepsPerTurn = 100
	DefaultMaxDepth        = 8
	DefaultMaxAttempts     = 3
	DefaultHTTPTimeout     = 5 * time.Second
	DefaultHTTPMaxBody     = 1 << 20
	DefaultHTTPBackoff     = 200 * time.Millisecond
	DefaultMaxHTTPPerTurn  = 5
	DefaultReloadInterval  = 2 * time.Second
)

// DefaultTexts are the engine's sentences when the config sets none.
var DefaultTexts = Texts{
	Invalid:   "抱歉，没有看懂您的回复，请再试一次。",
	Exhausted: "抱歉，还是没能识别您的回复。您可以回复“人工”联系客服，或稍后再试。",
	Timeout:   "由于长时间没有收到您的回复，本次会话已结束。有需要随时找我。",
	Reminder:  "您还在吗？",
	Resume:    "我们继续刚才的问题：",
	Cancelled: "好的，已取消。有其他需要随时告诉我。",
	Restarted: "好的，我们重新开始。请问有什么可以帮您？",
	Loop:      "抱歉，处理时出了点问题。您可以回复“人工”联系客服。",
	HTTPError: "抱歉，查询暂时失败，请稍后再试。",
	Choose:    "请从下面的选项中选择（回复序号即可）：",
}

// DefaultCommands are the global command words when the config sets none.
var DefaultCommands = Commands{
	Handoff: []string{"人工", "转人工", "人工客服"},
	Cancel:  []string{"取消", "退出"},
	Restart: []string{"重新开始"},
}

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	if c.Dir == "" {
		c.Dir = DefaultDir
	}
	if c.SessionTimeout == 0 {
		c.SessionTimeout = DefaultSessionTimeout
	}
	if c.Reminders == nil {
		c.Reminders = []ReminderConfig{{After: DefaultReminderAfter}}
	}
	if c.MaxStepsPerTurn == 0 {
		c.MaxStepsPerTurn = DefaultMaxStepsPerTurn
	}
	if c.MaxDepth == 0 {
		c.MaxDepth = DefaultMaxDepth
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	if len(c.Commands.Handoff) == 0 {
		c.Commands.Handoff = DefaultCommands.Handoff
	}
	if len(c.Commands.Cancel) == 0 {
		c.Commands.Cancel = DefaultCommands.Cancel
	}
	if len(c.Commands.Restart) == 0 {
		c.Commands.Restart = DefaultCommands.Restart
	}
	c.Texts = c.Texts.withDefaults()
	if c.HTTPTimeout == 0 {
		c.HTTPTimeout = DefaultHTTPTimeout
	}
	if c.HTTPMaxBody == 0 {
		c.HTTPMaxBody = DefaultHTTPMaxBody
	}
	if c.HTTPRetryBackoff == 0 {
		c.HTTPRetryBackoff = DefaultHTTPBackoff
	}
	if c.MaxHTTPPerTurn == 0 {
		c.MaxHTTPPerTurn = DefaultMaxHTTPPerTurn
	}
	if c.ReloadInterval == 0 {
		c.ReloadInterval = DefaultReloadInterval
	}
	return c
}

func (t Texts) withDefaults() Texts {
	d := DefaultTexts
	pick := func(v *string, def string) {
		if *v == "" {
			*v = def
		}
	}
	pick(&t.Invalid, d.Invalid)
	pick(&t.Exhausted, d.Exhausted)
	pick(&t.Timeout, d.Timeout)
	pick(&t.Reminder, d.Reminder)
	pick(&t.Resume, d.Resume)
	pick(&t.Cancelled, d.Cancelled)
	pick(&t.Restarted, d.Restarted)
	pick(&t.Loop, d.Loop)
	pick(&t.HTTPError, d.HTTPError)
	pick(&t.Choose, d.Choose)
	return t
}

// Validate reports configuration mistakes. It accepts zero values (they mean
// "default").
func (c Config) Validate() error {
	var errs []error
	neg := func(name string, d time.Duration) {
		if d < 0 {
			errs = append(errs, config.Errorf(name, "must not be negative"))
		}
	}
	neg("session_timeout", c.SessionTimeout)
	neg("http_timeout", c.HTTPTimeout)
	neg("http_retry_backoff", c.HTTPRetryBackoff)
	neg("reload_interval", c.ReloadInterval)
	for i, r := range c.Reminders {
		if r.After <= 0 {
			errs = append(errs, config.Errorf(fmt.Sprintf("reminders[%d].after", i), "must be positive"))
		}
	}
	for name, v := range map[string]int{"max_steps_per_turn": c.MaxStepsPerTurn, "max_depth": c.MaxDepth,
		"max_attempts": c.MaxAttempts, "max_http_per_turn": c.MaxHTTPPerTurn} {
		if v < 0 {
			errs = append(errs, config.Errorf(name, "must not be negative"))
		}
	}
	if c.HTTPMaxBody < 0 {
		errs = append(errs, config.Errorf("http_max_body", "must not be negative"))
	}
	seen := map[string]string{}
	for kind, words := range map[string][]string{"handoff": c.Commands.Handoff, "cancel": c.Commands.Cancel, "restart": c.Commands.Restart} {
		for _, w := range words {
			n := Normalize(w)
			if n == "" {
				errs = append(errs, config.Errorf("commands."+kind, "has an empty word"))
				continue
			}
			if other, ok := seen[n]; ok && other != kind {
				errs = append(errs, config.Errorf("commands", "%q is both a %s and a %s command", w, other, kind))
			}
			seen[n] = kind
		}
	}
	return config.Join(errs...)
}
