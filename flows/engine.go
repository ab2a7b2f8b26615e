package flows

import (
	"regexp"
	"sync/atomic"
)

// Engine runs flows. It is safe for concurrent use; Swap replaces the flows
// atomically (hot reload) while conversations carry on.
type Engine struct {
	set      atomic.Pointer[Set]
	cfg      Config
	vars     map[string]string
	commands map[string]command
}

type command uint8

const (
	cmdNone command = iota
	cmdHandoff
	cmdCancel
	cmdRestart
)

// Option configures an Engine.
type Option func(*Engine)

// WithConfig sets the engine's configuration (defaults fill zero fields).
func WithConfig(c Config) Option { return func(e *Engine) { e.cfg = c } }

// NewEngine returns an engine running set (nil: no flows).
func NewEngine(set *Set, opts ...Option) *Engine {
	e := &Engine{}
	for _, o := range opts {
		o(e)
	}
	e.cfg = e.cfg.WithDefaults()
	e.vars = expandVars(e.cfg.Vars, nil)
	e.commands = map[string]command{}
	for c, words := range map[command][]string{cmdHandoff: e.cfg.Commands.Handoff, cmdCancel: e.cfg.Commands.Cancel, cmdRestart: e.cfg.Commands.Restart} {
		for _, w := range words {
			e.commands[Normalize(w)] = c
		}
	}
	e.Swap(set)
	return e
}

// Swap replaces the running flows. Conversations waiting in a flow that no
// longer exists (or whose waiting step moved) end quietly on their next input.
func (e *Engine) Swap(set *Set) {
	if set == nil {
		set = newSet(nil, nil)
	}
	e.set.Store(set)
}

// Set returns the running flows.
func (e *Engine) Set() *Set { return e.set.Load() }

// Config returns the engine's configuration, defaults applied.
func (e *Engine) Config() Config { return e.cfg }

var varRef = regexp.MustCompile(`\{\{\s*vars\.([A-Za-z0-9_.-]+)\s*\}\}`)

// expandVars merges over onto base and resolves one level of {{vars.x}}
// references inside the values.
func expandVars(base, over map[string]string) map[string]string {
	out := make(map[string]string, len(base)+len(over))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range over {
		out[k] = v
	}
	for k, v := range out {
		if varRef.MatchString(v) {
			out[k] = varRef.ReplaceAllStringFunc(v, func(m string) string {
				name := varRef.FindStringSubmatch(m)[1]
				if name == k {
					return ""
				}
				return lookupRaw(base, over, name)
			})
		}
	}
	return out
}

func lookupRaw(base, over map[string]string, name string) string {
	if v, ok := over[name]; ok {
		return v
	}
	return base[name]
}

// Step advances the conversation by one input. It is pure: it reads only its
// arguments and the running flows, does no I/O, and does not modify st.
func (e *Engine) Step(st State, in Input) Result {
	t := newTurn(e, st, in)
	t.handle()
	return t.result()
}
