// Package fakechannel is a channel kind for tests of the core: it records
// what it is asked to send and fails on demand.
package fakechannel

import (
	"context"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/kefu-gateway/kefu/adapters"
	"github.com/kefu-gateway/kefu/adapters/message"
	"gopkg.in/yaml.v3"
)

// Kind is the fake channel's kind name.
const Kind = "fake"

var once sync.Once

// Accounts are the fake accounts built by the last Build, by id.
var (
	mu       sync.Mutex
	accounts = map[string]*Adapter{}
)

// Register registers the fake kind (once per test binary).
func Register() {
	once.Do(func() {
		adapters.Register(Kind, func(deps adapters.Deps, node *yaml.Node, path string) (adapters.Channel, error) {
			var cfgs []struct {
				ID            string        `yaml:"id"`
				MaxTextBytes  int           `yaml:"max_text_bytes"`
				PassiveBudget time.Duration `yaml:"passive_budget"`
				Buttons       bool          `yaml:"buttons"`
				Transcript    bool          `yaml:"transcript_delivery"`
				MergeWindow   time.Duration `yaml:"merge_window"`
			}
			if node != nil {
				if err := node.Decode(&cfgs); err != nil {
					return nil, err
				}
			}
			ch := &channel{}
			for _, c := range cfgs {
				a := &Adapter{id: c.ID, caps: adapters.Capabilities{MaxTextBytes: c.MaxTextBytes, PassiveBudget: c.PassiveBudget,
					Buttons: c.Buttons, TranscriptDelivery: c.Transcript, MergeWindow: c.MergeWindow}}
				ch.list = append(ch.list, a)
				mu.Lock()
				accounts[c.ID] = a
				mu.Unlock()
			}
			return ch, nil
		})
	})
}

// Get returns the fake account with id from the last build.
func Get(id string) *Adapter {
	mu.Lock()
	defer mu.Unlock()
	return accounts[id]
}

type channel struct{ list []*Adapter }

func (c *channel) Adapters() []adapters.Adapter {
	out := make([]adapters.Adapter, len(c.list))
	for i, a := range c.list {
		out[i] = a
	}
	return out
}

func (c *channel) Mount(fiber.Router) {}

// Adapter is one fake account.
type Adapter struct {
	id   string
	caps adapters.Capabilities

	mu   sync.Mutex
	sent []message.Message
	// Fail, when set, is asked before each send; a non-nil error fails it.
	Fail func(n int, m message.Message) error
	n    int
	cond chan struct{}

	// window, when set, answers Window; otherwise the window is open
	// with no quota.
	window    func(customer message.Party) adapters.Window
	templates []Template
	delay     time.Duration
	// discard counts sends without keeping them (benchmarks).
	discard bool
	sentN   int
}

var (
	_ adapters.Adapter        = (*Adapter)(nil)
	_ adapters.WindowChecker  = (*Adapter)(nil)
	_ adapters.TemplateSender = (*Adapter)(nil)
)

// Template is one template message the fake was asked to send.
type Template struct {
	Customer   message.Party
	TemplateID string
	Fields     map[string]string
	URL        string
}

func (a *Adapter) Channel() string                     { return Kind }
func (a *Adapter) Account() string                     { return a.id }
func (a *Adapter) Capabilities() adapters.Capabilities { return a.caps }

// Send records msg unless Fail says otherwise.
func (a *Adapter) Send(ctx context.Context, m message.Message) (adapters.SendResult, error) {
	a.mu.Lock()
	d := a.delay
	a.mu.Unlock()
	if d > 0 {
		time.Sleep(d)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.n++
	if a.Fail != nil {
		if err := a.Fail(a.n, m); err != nil {
			return adapters.SendResult{}, err
		}
	}
	a.sentN++
	if !a.discard {
		a.sent = append(a.sent, m)
	}
	return adapters.SendResult{PlatformID: m.ID}, nil
}

// SetFail sets the failure hook.
func (a *Adapter) SetFail(f func(n int, m message.Message) error) {
	a.mu.Lock()
	a.Fail = f
	a.mu.Unlock()
}

// Attempts is how many sends were tried.
func (a *Adapter) Attempts() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.n
}

// Sent returns the messages sent so far.
func (a *Adapter) Sent() []message.Message {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]message.Message(nil), a.sent...)
}

// WaitSent waits until at least n messages were sent or d passes.
func (a *Adapter) WaitSent(n int, d time.Duration) []message.Message {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if s := a.Sent(); len(s) >= n {
			return s
		}
		time.Sleep(10 * time.Millisecond)
	}
	return a.Sent()
}

// SetDelay makes every send take d, like a slow platform.
func (a *Adapter) SetDelay(d time.Duration) {
	a.mu.Lock()
	a.delay = d
	a.mu.Unlock()
}

// SetWindow sets what Window answers (nil = always open, no quota).
func (a *Adapter) SetWindow(f func(customer message.Party) adapters.Window) {
	a.mu.Lock()
	a.window = f
	a.mu.Unlock()
}

// Window answers the configured window function.
func (a *Adapter) Window(ctx context.Context, customer message.Party) (adapters.Window, error) {
	a.mu.Lock()
	f := a.window
	a.mu.Unlock()
	if f == nil {
		return adapters.Window{Open: true, Remaining: -1}, nil
	}
	return f(customer), nil
}

// SendTemplate records a template message.
func (a *Adapter) SendTemplate(ctx context.Context, customer message.Party, templateID string, fields map[string]string, url string) (adapters.SendResult, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.templates = append(a.templates, Template{Customer: customer, TemplateID: templateID, Fields: fields, URL: url})
	return adapters.SendResult{PlatformID: "tpl-" + templateID}, nil
}

// Templates returns the template messages sent so far.
func (a *Adapter) Templates() []Template {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]Template(nil), a.templates...)
}

// Reset forgets what was sent and every hook.
func (a *Adapter) Reset() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.sent, a.templates, a.n, a.Fail, a.window, a.delay, a.discard, a.sentN = nil, nil, 0, nil, nil, 0, false, 0
}

// SetDiscard makes the fake count sends without keeping them, so a
// benchmark's memory is kefu's, not the fake's.
func (a *Adapter) SetDiscard(on bool) {
	a.mu.Lock()
	a.discard = on
	a.mu.Unlock()
}

// SentCount is how many sends succeeded.
func (a *Adapter) SentCount() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.sentN
}
