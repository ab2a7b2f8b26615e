package flows

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/kefu-gateway/kefu/adapters/message"
)

// run executes the top flow from pc until a flow waits for an answer, waits
// for HTTP, or every flow has ended. Each executed op counts toward the
// per-turn circuit breaker.
func (t *turn) run(pc int) {
	for {
		fr := t.top()
		if fr == nil {
			return
		}
		fl := t.set.Flow(fr.Flow)
		if fl == nil || pc < 0 || pc >= len(fl.ops) {
			t.warn("flow %q cannot continue at op %d", fr.Flow, pc)
			t.endAll(EndChanged)
			return
		}
		t.steps++
		if t.steps > t.cfg.MaxStepsPerTurn {
			t.warn("flow %q stopped by the circuit breaker after %d steps in one turn", fr.Flow, t.cfg.MaxStepsPerTurn)
			t.say(t.cfg.Texts.Loop, nil)
			t.endAll(EndLoop)
			return
		}
		o := &fl.ops[pc]
		switch o.kind {
		case opJump:
			pc = o.jump
		case opEnd:
			if o.endAll {
				t.endAll(o.reason)
				return
			}
			next, ok := t.pop(o.reason)
			if !ok {
				return
			}
			pc = next
		default:
			next, ok := t.exec(fl, pc, o)
			if !ok {
				return
			}
			pc = next
		}
	}
}

// pop ends the top flow. It returns where the flow below continues, or false
// when nothing continues in this turn (no flow left, or the flow below waits
// for an answer and has been asked again).
func (t *turn) pop(reason string) (int, bool) {
	n := len(t.st.Stack)
	fr := t.st.Stack[n-1]
	t.emit(Action{Kind: ActionEnd, Flow: fr.Flow, Reason: reason})
	t.st.Stack = t.st.Stack[:n-1]
	below := t.top()
	if below == nil {
		return 0, false
	}
	fl := t.set.Flow(below.Flow)
	pc, ok := 0, false
	if fl != nil {
		pc, ok = fl.addr[below.At]
	}
	if !ok {
		t.endAll(EndChanged)
		return 0, false
	}
	if below.Waiting {
		t.ask(fl, pc, true)
		return 0, false
	}
	below.At = ""
	return pc + 1, true
}

// exec runs one step and returns the next pc, or false when the turn stops.
func (t *turn) exec(fl *Flow, pc int, o *op) (int, bool) {
	s := o.s
	fr := t.top()
	switch s.kind {
	case kindSay:
		t.say(t.pickText(s.say), t.renderChoices(s.choices))
	case kindAsk:
		if s.ask.skipIfSet {
			if v, ok := t.st.Slots[s.ask.slot]; ok && v != nil && v != "" {
				return pc + 1, true
			}
		}
		fr.At, fr.Waiting, fr.Attempts = s.addr, true, 0
		t.ask(fl, pc, false)
		return 0, false
	case kindIf:
		ok, err := s.cond.truth(t.envMap())
		if err != nil {
			t.warn("flow %q line %d: %v", fl.ID, s.line, err)
		}
		if !ok {
			return o.jump, true
		}
	case kindSet:
		t.execSet(fl, s)
	case kindHTTP:
		return t.execHTTP(fl, s, fr)
	case kindGoto:
		return o.jump, true
	case kindCall:
		callee := t.set.Flow(s.target)
		if callee == nil {
			t.warn("flow %q calls unknown flow %q", fl.ID, s.target)
			return pc + 1, true
		}
		if len(t.st.Stack) >= t.cfg.MaxDepth {
			t.warn("flow %q cannot call %q: %d flows already nested", fl.ID, s.target, len(t.st.Stack))
			t.say(t.cfg.Texts.Loop, nil)
			t.endAll(EndError)
			return 0, false
		}
		fr.At = s.addr
		t.st.Stack = append(t.st.Stack, Frame{Flow: callee.ID})
		return 0, true
	case kindStart:
		next := t.set.Flow(s.target)
		if next == nil {
			t.warn("flow %q starts unknown flow %q", fl.ID, s.target)
			return pc + 1, true
		}
		t.emit(Action{Kind: ActionEnd, Flow: fr.Flow, Reason: EndReplaced})
		*fr = Frame{Flow: next.ID, Digression: fr.Digression}
		return 0, true
	case kindHandoff:
		reason := ""
		if s.handoff.reason != nil {
			reason = t.render(s.handoff.reason)
		}
		t.emit(Action{Kind: ActionHandoff, Queue: s.handoff.queue, Reason: reason})
		t.endAll(EndHandoff)
		return 0, false
	case kindFollowup:
		t.execFollowup(fl, s)
	case kindEnd:
		if s.endAll {
			t.endAll(EndCompleted)
			return 0, false
		}
		return t.pop(EndCompleted)
	}
	return pc + 1, true
}

// render renders a template, noting a failing expression as a warning.
func (t *turn) render(tp *template) string {
	if tp.static() {
		return tp.src
	}
	s, err := tp.render(t.envMap())
	if err != nil {
		t.warn("line %d: %v", tp.line, err)
	}
	return s
}

// pickText renders one of the variations, chosen by a hash of the input time
// and the session's sequence number: random to the customer, reproducible
// for a given state and input.
func (t *turn) pickText(vs []*template) string {
	if len(vs) == 0 {
		return ""
	}
	i := 0
	if len(vs) > 1 {
		t.st.Seq++
		i = int(mix(uint64(t.in.Now.UnixNano())^t.st.Seq) % uint64(len(vs)))
	}
	return t.render(vs[i])
}

// mix is splitmix64's finalizer.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func (t *turn) renderChoices(cs []choice) []message.Choice {
	if len(cs) == 0 {
		return nil
	}
	out := make([]message.Choice, len(cs))
	for i, c := range cs {
		out[i] = c.offered(t.render(c.title))
	}
	return out
}

// setComputed stores an expression's result in a slot, as JSON can hold
// it. A result it cannot hold (NaN or ±Inf, from 0/0 or x/0) leaves the
// slot unset, with a warning naming the line.
func (t *turn) setComputed(fl *Flow, line int, name string, v any) {
	jv := jsonValue(v)
	if jv == nil && v != nil {
		t.warn("flow %q line %d: %s = %v is not a number the state can hold; left unset", fl.ID, line, name, v)
	}
	t.setSlot(name, jv)
}

func (t *turn) execSet(fl *Flow, s *step) {
	st := s.set
	env := t.envMap()
	for _, a := range st.slots {
		v, err := a.tmpl.raw(env)
		if err != nil {
			t.warn("flow %q line %d: %v", fl.ID, a.line, err)
		}
		t.setComputed(fl, a.line, a.name, v)
	}
	for _, a := range st.eval {
		v, err := a.expr.run(env)
		if err != nil {
			t.warn("flow %q line %d: %v", fl.ID, a.line, err)
			continue
		}
		t.setComputed(fl, a.line, a.name, v)
	}
	for _, a := range st.contact {
		v := t.render(a.tmpl)
		if !t.ownAttr {
			attrs := make(map[string]string, len(t.attrs)+1)
			for k, x := range t.attrs {
				attrs[k] = x
			}
			t.attrs, t.ownAttr = attrs, true
		}
		t.attrs[a.name] = v
		t.emit(Action{Kind: ActionContactSet, Key: a.name, Value: v})
	}
	if len(st.tagAdd) > 0 {
		var tags []string
		for _, tp := range st.tagAdd {
			if v := strings.TrimSpace(t.render(tp)); v != "" {
				tags = append(tags, v)
			}
		}
		if len(tags) > 0 {
			t.emit(Action{Kind: ActionTagAdd, Tags: tags})
			t.tags = mergeTags(t.tags, tags, nil)
		}
	}
	if len(st.tagDel) > 0 {
		var tags []string
		for _, tp := range st.tagDel {
			if v := strings.TrimSpace(t.render(tp)); v != "" {
				tags = append(tags, v)
			}
		}
		if len(tags) > 0 {
			t.emit(Action{Kind: ActionTagRemove, Tags: tags})
			t.tags = mergeTags(t.tags, nil, tags)
		}
	}
	if t.env != nil {
		t.env.Contact = t.contactEnv()
	}
}

// mergeTags returns tags plus add minus remove, without duplicates, as a new
// slice (the input's slice is never modified).
func mergeTags(tags, add, remove []string) []string {
	out := make([]string, 0, len(tags)+len(add))
	has := map[string]bool{}
	for _, list := range [][]string{tags, add} {
		for _, x := range list {
			if !has[x] && !contains(remove, x) {
				has[x] = true
				out = append(out, x)
			}
		}
	}
	return out
}

func (t *turn) execFollowup(fl *Flow, s *step) {
	fu := s.followup
	id := fu.id
	if fu.cancel != "" {
		t.emit(Action{Kind: ActionFollowupCancel, FollowupID: fu.cancel})
		return
	}
	if id == "" {
		id = fl.ID + "." + strings.TrimPrefix(s.addr, "@")
	}
	a := Action{Kind: ActionFollowup, FollowupID: id, Delay: fu.delay, Flow: fu.flow, CancelOnReply: fu.cancelOnReply}
	if fu.text != nil {
		a.Text = t.render(fu.text)
	}
	if fu.at != nil {
		at, err := parseWhen(t.render(fu.at), t.in.Now)
		if err != nil {
			t.warn("flow %q line %d: followup at: %v", fl.ID, s.line, err)
			return
		}
		a.At = at
	}
	t.emit(a)
}

// parseWhen reads an absolute time for a followup: RFC 3339, or
// "2006-01-02 15:04" in the input's time zone. A time of day alone ("10:00")
// means its next occurrence.
func parseWhen(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if at, err := time.Parse(time.RFC3339, s); err == nil {
		return at, nil
	}
	loc := now.Location()
	for _, layout := range []string{"2006-01-02 15:04", "2006-01-02T15:04", "2006-01-02"} {
		if at, err := time.ParseInLocation(layout, s, loc); err == nil {
			return at, nil
		}
	}
	if hm, err := time.ParseInLocation("15:04", s, loc); err == nil {
		at := time.Date(now.Year(), now.Month(), now.Day(), hm.Hour(), hm.Minute(), 0, 0, loc)
		if !at.After(now) {
			at = at.AddDate(0, 0, 1)
		}
		return at, nil
	}
	return time.Time{}, fmt.Errorf("%q is not a time (use RFC 3339, 2006-01-02 15:04 or 15:04)", s)
}

func (t *turn) execHTTP(fl *Flow, s *step, fr *Frame) (int, bool) {
	h := s.http
	env := t.envMap()
	u, err := h.url.renderURL(env)
	if err != nil {
		t.warn("flow %q line %d: %v", fl.ID, s.line, err)
	}
	req := &HTTPRequest{Method: h.method, URL: u, Timeout: h.timeout, Retries: h.retries}
	if req.Timeout == 0 {
		req.Timeout = t.cfg.HTTPTimeout
	}
	if len(h.headers) > 0 {
		req.Headers = make(map[string]string, len(h.headers))
		for _, a := range h.headers {
			req.Headers[a.name] = t.render(a.tmpl)
		}
	}
	switch {
	case h.body != nil:
		req.Body = t.render(h.body)
	case h.json != nil:
		b, err := json.Marshal(t.renderJSON(h.json))
		if err != nil {
			t.warn("flow %q line %d: encoding json body: %v", fl.ID, s.line, err)
		}
		req.Body = string(b)
		if req.Headers == nil {
			req.Headers = map[string]string{}
		}
		if _, ok := req.Headers["Content-Type"]; !ok {
			req.Headers["Content-Type"] = "application/json"
		}
	}
	t.st.Seq++
	req.Token = fmt.Sprintf("h%d", t.st.Seq)
	t.st.PendingHTTP = req.Token
	fr.At = s.addr
	t.await = req
	return 0, false
}

func (t *turn) renderJSON(v any) any {
	switch x := v.(type) {
	case *template:
		val, err := x.value(t.envMap())
		if err != nil {
			t.warn("line %d: %v", x.line, err)
		}
		return val
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, c := range x {
			m[k] = t.renderJSON(c)
		}
		return m
	case []any:
		l := make([]any, len(x))
		for i, c := range x {
			l[i] = t.renderJSON(c)
		}
		return l
	}
	return v
}

// onHTTP resumes the flow that waited for an HTTP call: on success the map
// fills slots and the flow goes on; on failure the on_error path runs.
func (t *turn) onHTTP() {
	resp := t.in.HTTP
	if resp == nil || t.st.PendingHTTP == "" || resp.Token != t.st.PendingHTTP {
		t.warn("ignoring an HTTP result nobody waits for")
		return
	}
	t.st.PendingHTTP = ""
	fr := t.top()
	if fr == nil {
		return
	}
	fl := t.set.Flow(fr.Flow)
	pc, ok := 0, false
	if fl != nil {
		pc, ok = fl.addr[fr.At]
	}
	if !ok || fl.ops[pc].s.kind != kindHTTP {
		t.warn("flow %q http step %q is gone after a reload", fr.Flow, fr.At)
		t.endAll(EndChanged)
		return
	}
	fr.At = ""
	o := &fl.ops[pc]
	success := resp.Err == "" && resp.Status >= 200 && resp.Status < 300
	t.st.LastHTTP = &HTTPOutcome{Status: resp.Status, Error: resp.Err}
	if !success && t.st.LastHTTP.Error == "" {
		t.st.LastHTTP.Error = fmt.Sprintf("HTTP %d", resp.Status)
	}
	env := t.envMap()
	env.HTTP = map[string]any{"status": resp.Status, "error": t.st.LastHTTP.Error}
	if !success {
		if o.onError >= 0 {
			t.run(o.onError)
			return
		}
		t.say(t.cfg.Texts.HTTPError, nil)
		t.endAll(EndError)
		return
	}
	var body any
	if len(resp.Body) > 0 {
		if err := json.Unmarshal(resp.Body, &body); err != nil {
			body = string(resp.Body)
		}
	}
	env.Response, env.Status = body, resp.Status
	for _, a := range o.s.http.mapping {
		v, err := a.expr.run(env)
		if err != nil {
			t.warn("flow %q line %d: %v", fl.ID, a.line, err)
			continue
		}
		t.setComputed(fl, a.line, a.name, v)
	}
	env.Response, env.Status = nil, 0
	t.run(pc + 1)
}
