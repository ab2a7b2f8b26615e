package flows

import (
	"fmt"
	"strings"

	"github.com/kefu-gateway/kefu/adapters/message"
)

// turn is the work of one Step: a private copy of the state, the actions so
// far, and the expression environment, built on first use.
type turn struct {
	e   *Engine
	set *Set
	cfg *Config
	in  Input
	st  State

	actions  []Action
	warnings []string
	handled  bool
	await    *HTTPRequest
	steps    int

	env     *exprEnv
	vars    map[string]string
	attrs   map[string]string
	tags    []string
	ownAttr bool
}

func newTurn(e *Engine, st State, in Input) *turn {
	t := &turn{e: e, set: e.set.Load(), cfg: &e.cfg, in: in, st: st.clone()}
	t.vars = e.vars
	if len(in.Vars) > 0 {
		t.vars = expandVars(e.cfg.Vars, in.Vars)
	}
	t.attrs = in.Contact.Attributes
	t.tags = in.Contact.Tags
	return t
}

// clone copies everything Step may change, so the caller's State is never
// modified.
func (s State) clone() State {
	c := s
	if s.Stack != nil {
		c.Stack = append([]Frame(nil), s.Stack...)
	}
	if s.Slots != nil {
		c.Slots = make(map[string]any, len(s.Slots))
		for k, v := range s.Slots {
			c.Slots[k] = v
		}
	}
	if s.LastHTTP != nil {
		h := *s.LastHTTP
		c.LastHTTP = &h
	}
	return c
}

func (t *turn) result() Result {
	t.st.Flow = ""
	if n := len(t.st.Stack); n > 0 {
		t.st.Flow = t.st.Stack[n-1].Flow
	}
	if len(t.st.Slots) == 0 {
		t.st.Slots = nil
	}
	return Result{State: t.st, Actions: t.actions, Handled: t.handled, AwaitHTTP: t.await, Warnings: t.warnings}
}

func (t *turn) warn(format string, args ...any) {
	t.warnings = append(t.warnings, fmt.Sprintf(format, args...))
}

func (t *turn) emit(a Action) { t.actions = append(t.actions, a) }

// handle dispatches the input.
func (t *turn) handle() {
	switch t.in.Kind {
	case InputTimer:
		t.handled = true
		t.onTimer()
	case InputHTTP:
		t.handled = true
		t.onHTTP()
	case InputEvent:
		t.repair()
		t.st.Offered = nil
		t.onEvent()
	case InputStart:
		t.repair()
		t.st.Offered = nil
		fl := t.set.Flow(t.in.Flow)
		if fl == nil {
			t.warn("cannot start unknown flow %q", t.in.Flow)
			return
		}
		t.handled = true
		if len(t.st.Stack) > 0 {
			t.endAll(EndReplaced)
		}
		t.start(fl, false)
	default:
		t.repair()
		offered := t.st.Offered
		t.st.Offered = nil
		t.onText(offered)
	}
}

// repair ends flows the state can no longer continue: a waiting question
// whose timer was lost and whose deadline passed, a step removed by a hot
// reload, or an HTTP call that never returned.
func (t *turn) repair() {
	if len(t.st.Stack) == 0 {
		return
	}
	if t.st.PendingHTTP != "" {
		t.warn("flow %q waited for an HTTP result that never came", t.st.Stack[len(t.st.Stack)-1].Flow)
		t.endAll(EndError)
		return
	}
	for i, fr := range t.st.Stack {
		if _, ok := t.frameOp(fr, i == len(t.st.Stack)-1); !ok {
			t.warn("flow %q step %q is gone after a reload; ending the conversation's flows", fr.Flow, fr.At)
			t.endAll(EndChanged)
			return
		}
	}
	if t.st.Waiting() && !t.st.Deadline.IsZero() && t.in.Now.After(t.st.Deadline) {
		t.endAll(EndTimeout)
	}
}

// frameOp finds the op a paused frame stopped at and checks it is still the
// kind of step the frame expects (a question if it waits, a call if a flow
// runs above it).
func (t *turn) frameOp(fr Frame, top bool) (int, bool) {
	fl := t.set.Flow(fr.Flow)
	if fl == nil {
		return 0, false
	}
	pc, ok := fl.addr[fr.At]
	if !ok {
		return 0, false
	}
	s := fl.ops[pc].s
	switch {
	case fr.Waiting:
		return pc, s.kind == kindAsk
	case !top:
		return pc, s.kind == kindCall
	}
	return pc, true
}

func (t *turn) top() *Frame {
	if len(t.st.Stack) == 0 {
		return nil
	}
	return &t.st.Stack[len(t.st.Stack)-1]
}

func (t *turn) onText(offered []message.Choice) {
	raw := t.in.Text
	norm := Normalize(raw)
	if c := t.e.commands[norm]; c != cmdNone {
		t.handled = true
		t.command(c)
		return
	}
	if t.st.Waiting() {
		t.handled = true
		t.answer(raw, norm)
		return
	}
	if i := choiceIndex(norm, offered, !t.in.Buttons); i >= 0 {
		raw = offered[i].Payload
		norm = Normalize(raw)
		if c := t.e.commands[norm]; c != cmdNone {
			t.handled = true
			t.command(c)
			return
		}
	}
	hits := t.set.index.matchText(norm, &raw)
	if t.in.Intent != "" {
		hits = append(hits, t.set.index.matchIntent(t.in.Intent)...)
		sortHits(hits)
	}
	if fl := t.pick(hits); fl != nil {
		t.handled = true
		t.start(fl, false)
	}
}

func (t *turn) onEvent() {
	fl := t.pick(t.set.index.matchEvent(t.in.Event, t.in.EventKey))
	if fl == nil {
		return
	}
	t.handled = true
	if t.st.Waiting() {
		if fl.Interruptible && len(t.st.Stack) < t.cfg.MaxDepth {
			t.clearWait()
			t.start(fl, true)
			return
		}
		// A menu click or a scan while a question waits is a clear wish to
		// do something else: end the question rather than trap the customer.
		t.endAll(EndReplaced)
	}
	t.start(fl, false)
}

// pick returns the first flow among hits whose guard passes.
func (t *turn) pick(hits []hit) *Flow {
	for _, h := range hits {
		if t.guard(h.flow) {
			return h.flow
		}
	}
	return nil
}

func (t *turn) guard(fl *Flow) bool {
	if fl.when == nil {
		return true
	}
	ok, err := fl.when.truth(t.envMap())
	if err != nil {
		t.warn("flow %q when: %v", fl.ID, err)
	}
	return ok
}

func (t *turn) command(c command) {
	switch c {
	case cmdHandoff:
		if t.cfg.Texts.Handoff != "" {
			t.say(t.cfg.Texts.Handoff, nil)
		}
		t.emit(Action{Kind: ActionHandoff, Queue: t.cfg.HandoffQueue, Reason: "customer asked for a human"})
		t.endAll(EndHandoff)
	case cmdCancel:
		t.endAll(EndCancelled)
		t.st.Slots, t.env = nil, nil
		t.say(t.cfg.Texts.Cancelled, nil)
	case cmdRestart:
		root := t.cfg.HomeFlow
		if len(t.st.Stack) > 0 {
			root = t.st.Stack[0].Flow
		}
		t.endAll(EndRestarted)
		t.st.Slots, t.env = nil, nil
		if fl := t.set.Flow(root); fl != nil {
			t.start(fl, false)
			return
		}
		t.say(t.cfg.Texts.Restarted, nil)
	}
}

// start pushes fl and runs it. A digression keeps the waiting flow below it.
func (t *turn) start(fl *Flow, digression bool) {
	if len(t.st.Stack) >= t.cfg.MaxDepth {
		t.warn("flow %q not started: %d flows already nested", fl.ID, len(t.st.Stack))
		t.say(t.cfg.Texts.Loop, nil)
		t.endAll(EndError)
		return
	}
	t.st.Stack = append(t.st.Stack, Frame{Flow: fl.ID, Digression: digression})
	t.run(0)
}

// endAll ends every running flow, innermost first.
func (t *turn) endAll(reason string) {
	t.clearWait()
	t.st.PendingHTTP = ""
	for i := len(t.st.Stack) - 1; i >= 0; i-- {
		t.emit(Action{Kind: ActionEnd, Flow: t.st.Stack[i].Flow, Reason: reason})
	}
	t.st.Stack = nil
}

// say emits a message, rendering choices as a numbered menu where the
// channel has no buttons.
func (t *turn) say(text string, choices []message.Choice) {
	a := Action{Kind: ActionSay, Text: text}
	if len(choices) > 0 {
		t.st.Offered = choices
		if t.in.Buttons {
			a.Choices = choices
		} else {
			a.Text = message.RenderChoices(text, choices)
		}
	}
	t.emit(a)
}

// choiceIndex maps an answer to one of choices: its title or payload, else
// its number (1-based) in the menu. Where the menu was shown as numbered
// text (numbersFirst), the number wins over a numeric payload. It returns -1 when nothing fits.
func choiceIndex(norm string, choices []message.Choice, numbersFirst bool) int {
	if len(choices) == 0 || norm == "" {
		return -1
	}
	if n, ok := smallNumber(norm); ok && numbersFirst && n >= 1 && n <= len(choices) {
		return n - 1
	}
	for i, c := range choices {
		if Normalize(c.Title) == norm || (c.Payload != "" && Normalize(c.Payload) == norm) {
			return i
		}
	}
	if n, ok := smallNumber(norm); ok && n >= 1 && n <= len(choices) {
		return n - 1
	}
	return -1
}

func smallNumber(s string) (int, bool) {
	s = strings.TrimSuffix(strings.TrimSuffix(s, "号"), ".")
	if s == "" || len(s) > 3 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, true
}

// envMap returns the expression environment, built on first use.
func (t *turn) envMap() *exprEnv {
	if t.env != nil {
		return t.env
	}
	if t.st.Slots == nil {
		t.st.Slots = map[string]any{}
	}
	httpEnv := map[string]any{"status": 0, "error": ""}
	if h := t.st.LastHTTP; h != nil {
		httpEnv["status"], httpEnv["error"] = h.Status, h.Error
	}
	t.env = &exprEnv{
		Slots:   t.st.Slots,
		Contact: t.contactEnv(),
		Vars:    t.vars,
		Input: map[string]any{
			"text": t.in.Text, "event": t.in.Event, "key": t.in.EventKey,
			"intent": t.in.Intent, "channel": t.in.Channel,
		},
		HTTP: httpEnv,
		Now:  t.in.Now,
	}
	return t.env
}

func (t *turn) contactEnv() map[string]any {
	tags := t.tags
	if tags == nil {
		tags = []string{}
	}
	attrs := t.attrs
	if attrs == nil {
		attrs = map[string]string{}
	}
	return map[string]any{"id": t.in.Contact.ID, "name": t.in.Contact.Name, "attributes": attrs, "tags": tags}
}

func (t *turn) setSlot(name string, v any) {
	if t.st.Slots == nil {
		t.st.Slots = map[string]any{}
		if t.env != nil {
			t.env.Slots = t.st.Slots
		}
	}
	if v == nil {
		delete(t.st.Slots, name)
		return
	}
	t.st.Slots[name] = v
}
