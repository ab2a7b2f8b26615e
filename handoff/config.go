package handoff

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/kefu-gateway/kefu/internal/config"
	"gopkg.in/yaml.v3"
)

// Assignment strategies.
const (
	// StrategyLeastBusy gives a waiting customer to the online agent with the
	// fewest conversations; ties go to the one assigned least recently.
	StrategyLeastBusy = "least_busy"
	// StrategyRoundRobin gives a waiting customer to the online agent with
	// free capacity who was assigned least recently.
	StrategyRoundRobin = "round_robin"
)

// DefaultQueueID names the queue used when no queue is configured.
const DefaultQueueID = "default"

// Config is the `handoff:` block.
type Config struct {
	// Agents are the people who answer customers from enterprise WeChat.
	Agents []AgentConfig `yaml:"agents"`
	// Queues are where customers wait for an agent. With none configured
	// there is one queue, "default", served by every agent at every hour.
	Queues []QueueConfig `yaml:"queues"`
	// DefaultQueue takes requests that name no queue (the 人工 command, a
	// flow's bare `handoff`, repeated misses). Empty = the first queue.
	DefaultQueue string `yaml:"default_queue"`
	// Strategy picks the agent: least_busy (default) or round_robin.
	Strategy string `yaml:"strategy"`
	// TimeZone is the business hours' zone where a queue names none.
	TimeZone string `yaml:"time_zone"`
	// BusinessHours apply to queues that set none; absent = always open.
	BusinessHours *BusinessHours `yaml:"business_hours"`
	// AgentChannel is the channel kind agents write from (the WeCom app).
	AgentChannel string `yaml:"agent_channel"`

	// QueueTimeout is how long a customer waits for an agent before being
	// told nobody is free (and offered to leave a message).
	QueueTimeout time.Duration `yaml:"queue_timeout"`
	// PresenceTTL is how long an agent stays online after their last
	// message or /online: WeCom has no presence API, so silence is absence.
	PresenceTTL time.Duration `yaml:"presence_ttl"`
	// IdleReminder: an assigned conversation with no message for this long
	// gets the agent a reminder.
	IdleReminder time.Duration `yaml:"idle_reminder"`
	// IdleResolve: an assigned conversation with no message for this long
	// ends. When the agent spoke last (the customer went quiet) it is
	// resolved; when the customer is the one waiting it goes back to the
	// queue for another agent instead.
	IdleResolve time.Duration `yaml:"idle_resolve"`
	// PositionInterval is the least time between two queue-position updates
	// to one customer.
	PositionInterval time.Duration `yaml:"position_interval"`
	// ClaimLease is how long an assignment may stay half-done (claimed in
	// Redis, agent not yet notified) before another worker finishes it. It
	// bounds the delay a crashed worker causes.
	ClaimLease time.Duration `yaml:"claim_lease"`
	// RecordTTL is how long a finished handoff's record is kept.
	RecordTTL time.Duration `yaml:"record_ttl"`
	// NoticeTurns is how many recent transcript entries the agent's notice shows.
	NoticeTurns int `yaml:"notice_turns"`

	// LeaveMessage lets customers leave a message when nobody can serve them.
	LeaveMessage LeaveMessageConfig `yaml:"leave_message"`
	// CSAT asks customers to rate the service after an agent ends it.
	CSAT CSATConfig `yaml:"csat"`
	// LeaveQueueCommands take a waiting customer out of the queue.
	LeaveQueueCommands []string `yaml:"leave_queue_commands"`
	// CommandAliases add words for agent commands: {end: [完成]}.
	CommandAliases map[string][]string `yaml:"command_aliases"`
	// KFServicer lists 微信客服 accounts whose handoffs go to WeCom's own
	// reception (service_state/trans) instead of kefu's agents.
	KFServicer []KFServicerConfig `yaml:"kf_servicer"`
	// KFServicerTimeout is how long a conversation handed to WeCom's
	// reception stays silent for the bot when the adapter cannot say whether
	// the session is still on (a 微信客服 session lasts 48 h, PROTOCOLS.md §3.3).
	KFServicerTimeout time.Duration `yaml:"kf_servicer_timeout"`
	// Texts are every sentence customers and agents see.
	Texts Texts `yaml:"texts"`
}

// AgentConfig is one agent.
type AgentConfig struct {
	// ID names the agent in commands, owners and the operator API. REQUIRED.
	ID string `yaml:"id"`
	// Name is shown to customers ("客服小王为您服务"). Default: the id.
	Name string `yaml:"name"`
	// WecomUser is the agent's WeCom userid. REQUIRED.
	WecomUser string `yaml:"wecom_user"`
	// WecomApp is the wecom_app account id that reaches the agent. REQUIRED.
	WecomApp string `yaml:"wecom_app"`
	// Skills decide which queues the agent serves: a queue's every skill.
	Skills []string `yaml:"skills"`
	// MaxConcurrent caps the agent's open conversations.
	MaxConcurrent int `yaml:"max_concurrent"`
}

// QueueConfig is one queue.
type QueueConfig struct {
	// ID names the queue in flows (`handoff: pre_sales`) and commands. REQUIRED.
	ID string `yaml:"id"`
	// Name is shown to agents. Default: the id.
	Name string `yaml:"name"`
	// Skills an agent needs, all of them, to serve the queue (none = any agent).
	Skills []string `yaml:"skills"`
	// BusinessHours of the queue; absent = handoff.business_hours.
	BusinessHours *BusinessHours `yaml:"business_hours"`
	// OutOfHoursMessage is said outside business hours. Default: texts.out_of_hours.
	OutOfHoursMessage string `yaml:"out_of_hours_message"`
}

// LeaveMessageConfig is the `leave_message:` block.
type LeaveMessageConfig struct {
	// Enabled keeps the customer's next message for the agents when nobody
	// can serve them (out of hours, queue timeout, no agents).
	Enabled bool `yaml:"enabled"`
	// Timeout is how long kefu waits for that message before the bot takes
	// the conversation back.
	Timeout time.Duration `yaml:"timeout"`
}

// CSATConfig is the `csat:` block.
type CSATConfig struct {
	// Enabled asks for a 1–5 rating when an agent ends a conversation.
	Enabled bool `yaml:"enabled"`
	// Window is how long a rating is accepted after the question.
	Window time.Duration `yaml:"window"`
	// Flow, when set, is the flow /end starts instead of the 1–5 question:
	// a survey of the team's own (the demo's satisfaction_survey). It
	// starts only while the channel still lets kefu write to the customer.
	Flow string `yaml:"flow"`
}

// KFServicerConfig routes one 微信客服 account's handoffs to WeCom's reception.
type KFServicerConfig struct {
	// Account is the wecom_kf account id. REQUIRED.
	Account string `yaml:"account"`
	// Servicer is the WeCom userid to hand to (service state 3); empty hands
	// to the account's waiting pool (state 2). PROTOCOLS.md §3.3.
	Servicer string `yaml:"servicer"`
}

// Defaults returns the handoff defaults.
func Defaults() Config {
	return Config{
		Strategy:           StrategyLeastBusy,
		TimeZone:           "Asia/Shanghai",
		AgentChannel:       "wecom_app",
		QueueTimeout:       10 * time.Minute,
		PresenceTTL:        30 * time.Minute,
		IdleReminder:       5 * time.Minute,
		IdleResolve:        30 * time.Minute,
		PositionInterval:   time.Minute,
		ClaimLease:         30 * time.Second,
		RecordTTL:          7 * 24 * time.Hour,
		NoticeTurns:        10,
		KFServicerTimeout:  48 * time.Hour,
		LeaveMessage:       LeaveMessageConfig{Enabled: true, Timeout: 10 * time.Minute},
		CSAT:               CSATConfig{Enabled: true, Window: 24 * time.Hour},
		LeaveQueueCommands: []string{"退出排队", "取消排队", "取消", "退出"},
		Texts:              DefaultTexts(),
	}
}

// LoadConfig decodes the `handoff:` block (nil or empty = defaults) strictly,
// applies defaults and validates it. Problems name the file, line and key.
func LoadConfig(node *yaml.Node, file string) (Config, error) {
	cfg := Defaults()
	if err := config.Decode(node, &cfg, file, "handoff"); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// UnmarshalYAML fills an agent's defaults before decoding it.
func (a *AgentConfig) UnmarshalYAML(n *yaml.Node) error {
	type plain AgentConfig
	p := plain{MaxConcurrent: 5}
	if err := n.Decode(&p); err != nil {
		return err
	}
	*a = AgentConfig(p)
	if a.Name == "" {
		a.Name = a.ID
	}
	return nil
}

// UnmarshalYAML fills a queue's defaults before decoding it.
func (q *QueueConfig) UnmarshalYAML(n *yaml.Node) error {
	type plain QueueConfig
	var p plain
	if err := n.Decode(&p); err != nil {
		return err
	}
	*q = QueueConfig(p)
	if q.Name == "" {
		q.Name = q.ID
	}
	return nil
}

var idPattern = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

// Validate checks the handoff configuration.
func (c *Config) Validate() error {
	var errs []error
	agentIDs := map[string]bool{}
	users := map[string]string{}
	for i := range c.Agents {
		a := &c.Agents[i]
		p := fmt.Sprintf("agents[%d]", i)
		if !idPattern.MatchString(a.ID) {
			errs = append(errs, config.Errorf(p+".id", "REQUIRED: 1-64 letters, digits, '.', '-' or '_' (got %q)", a.ID))
		} else if agentIDs[a.ID] {
			errs = append(errs, config.Errorf(p+".id", "duplicate agent id %q", a.ID))
		}
		agentIDs[a.ID] = true
		if a.WecomUser == "" {
			errs = append(errs, config.Errorf(p+".wecom_user", "REQUIRED: the agent's WeCom userid"))
		}
		if a.WecomApp == "" {
			errs = append(errs, config.Errorf(p+".wecom_app", "REQUIRED: the id of the wecom_app account that reaches the agent"))
		}
		if k := a.WecomApp + "\x00" + a.WecomUser; a.WecomUser != "" && users[k] != "" {
			errs = append(errs, config.Errorf(p+".wecom_user", "%q on %q is already agent %q", a.WecomUser, a.WecomApp, users[k]))
		} else {
			users[k] = a.ID
		}
		if a.MaxConcurrent < 1 || a.MaxConcurrent > 1000 {
			errs = append(errs, config.Errorf(p+".max_concurrent", "must be between 1 and 1000 (got %d)", a.MaxConcurrent))
		}
		if strings.TrimSpace(a.Name) == "" {
			errs = append(errs, config.Errorf(p+".name", "must not be blank"))
		}
	}
	queueIDs := map[string]bool{}
	for i := range c.Queues {
		q := &c.Queues[i]
		p := fmt.Sprintf("queues[%d]", i)
		if !idPattern.MatchString(q.ID) {
			errs = append(errs, config.Errorf(p+".id", "REQUIRED: 1-64 letters, digits, '.', '-' or '_' (got %q)", q.ID))
		} else if queueIDs[q.ID] {
			errs = append(errs, config.Errorf(p+".id", "duplicate queue id %q", q.ID))
		}
		if agentIDs[q.ID] {
			errs = append(errs, config.Errorf(p+".id", "%q is also an agent id: /transfer could not tell them apart", q.ID))
		}
		queueIDs[q.ID] = true
		if q.BusinessHours != nil {
			errs = append(errs, config.Within(p+".business_hours", q.BusinessHours.validate(c.TimeZone)))
		}
	}
	if c.DefaultQueue != "" && !queueIDs[c.DefaultQueue] && !(len(c.Queues) == 0 && c.DefaultQueue == DefaultQueueID) {
		errs = append(errs, config.Errorf("default_queue", "no queue %q is configured", c.DefaultQueue))
	}
	switch c.Strategy {
	case StrategyLeastBusy, StrategyRoundRobin:
	default:
		errs = append(errs, config.Errorf("strategy", "must be %s or %s (got %q)", StrategyLeastBusy, StrategyRoundRobin, c.Strategy))
	}
	if _, err := time.LoadLocation(c.TimeZone); err != nil || c.TimeZone == "" {
		errs = append(errs, config.Errorf("time_zone", "unknown time zone %q (use an IANA name such as Asia/Shanghai)", c.TimeZone))
	}
	if c.BusinessHours != nil {
		errs = append(errs, config.Within("business_hours", c.BusinessHours.validate(c.TimeZone)))
	}
	if c.AgentChannel == "" {
		errs = append(errs, config.Errorf("agent_channel", "must not be empty"))
	}
	for _, d := range []struct {
		key string
		v   time.Duration
		min time.Duration
	}{
		{"queue_timeout", c.QueueTimeout, 100 * time.Millisecond},
		{"presence_ttl", c.PresenceTTL, 100 * time.Millisecond},
		{"idle_reminder", c.IdleReminder, 100 * time.Millisecond},
		{"idle_resolve", c.IdleResolve, 100 * time.Millisecond},
		{"position_interval", c.PositionInterval, 0},
		{"claim_lease", c.ClaimLease, 100 * time.Millisecond},
		{"record_ttl", c.RecordTTL, time.Minute},
		{"leave_message.timeout", c.LeaveMessage.Timeout, 100 * time.Millisecond},
		{"csat.window", c.CSAT.Window, 100 * time.Millisecond},
		{"kf_servicer_timeout", c.KFServicerTimeout, time.Minute},
	} {
		if d.v < d.min {
			errs = append(errs, config.Errorf(d.key, "must be at least %s (got %s)", d.min, d.v))
		}
	}
	if c.IdleResolve <= c.IdleReminder {
		errs = append(errs, config.Errorf("idle_resolve", "must be longer than idle_reminder (%s)", c.IdleReminder))
	}
	if c.CSAT.Flow != "" && !c.CSAT.Enabled {
		errs = append(errs, config.Errorf("csat.flow", "needs csat.enabled: true (the survey replaces the 1–5 question)"))
	}
	if c.NoticeTurns < 0 || c.NoticeTurns > 50 {
		errs = append(errs, config.Errorf("notice_turns", "must be between 0 and 50"))
	}
	for i, w := range c.LeaveQueueCommands {
		if strings.TrimSpace(w) == "" {
			errs = append(errs, config.Errorf(fmt.Sprintf("leave_queue_commands[%d]", i), "must not be blank"))
		}
	}
	for name, words := range c.CommandAliases {
		if _, ok := commandNames[Command(name)]; !ok {
			errs = append(errs, config.Errorf("command_aliases."+name, "unknown command (known: %s)", strings.Join(commandList(), ", ")))
			continue
		}
		for i, w := range words {
			if w == "" || strings.ContainsAny(w, " \t\n/") {
				errs = append(errs, config.Errorf(fmt.Sprintf("command_aliases.%s[%d]", name, i), "must be one word without '/' (got %q)", w))
			}
		}
	}
	kf := map[string]bool{}
	for i, k := range c.KFServicer {
		p := fmt.Sprintf("kf_servicer[%d]", i)
		if k.Account == "" {
			errs = append(errs, config.Errorf(p+".account", "REQUIRED: the wecom_kf account id"))
		} else if kf[k.Account] {
			errs = append(errs, config.Errorf(p+".account", "duplicate account %q", k.Account))
		}
		kf[k.Account] = true
	}
	errs = append(errs, config.Within("texts", c.Texts.validate()))
	return config.Join(errs...)
}

// queues returns the configured queues, or the implicit default queue.
func (c *Config) queues() []QueueConfig {
	if len(c.Queues) == 0 {
		return []QueueConfig{{ID: DefaultQueueID, Name: DefaultQueueID}}
	}
	return c.Queues
}

// defaultQueue is the queue of requests that name none.
func (c *Config) defaultQueue() string {
	if c.DefaultQueue != "" {
		return c.DefaultQueue
	}
	return c.queues()[0].ID
}

// serves reports whether agent a has every skill queue q asks for.
func serves(a AgentConfig, q QueueConfig) bool {
	for _, need := range q.Skills {
		found := false
		for _, s := range a.Skills {
			if s == need {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}
