package flows

// A flow's steps are compiled into a flat list of ops, the way a compiler
// lowers structured code: an if becomes a conditional jump over its then
// block, handler blocks (on_exhausted, on_timeout, on_error) are placed after
// the main steps and end with an implicit end. The engine then only needs a
// program counter, and lint can check reachability on the same graph the
// engine runs.

type opKind uint8

const (
	opStep opKind = iota // run step s
	opJump               // continue at jump
	opEnd                // the flow (or, with endAll, every flow) ends here
)

type op struct {
	kind opKind
	s    *step
	// jump is the target of opJump and goto, and the else branch of if.
	jump int
	// Handler entry points; -1 when the step has none (the default applies).
	onExhausted, onTimeout, onError int
	endAll                          bool
	reason                          string
}

type pendingHandler struct {
	pc    int
	which string
	h     handler
}

type compiler struct {
	r       reporter
	fl      *Flow
	ids     map[string]*step
	pending []pendingHandler
	targets []pendingHandler // handlers that name a step id
}

// compileFlow lowers fl.steps into fl.ops and checks step ids, goto targets
// and reachability.
func (r reporter) compileFlow(fl *Flow) {
	c := &compiler{r: r, fl: fl, ids: map[string]*step{}}
	fl.addr = map[string]int{}
	c.block(fl.steps)
	fl.ops = append(fl.ops, op{kind: opEnd, reason: EndCompleted})
	for len(c.pending) > 0 {
		h := c.pending[0]
		c.pending = c.pending[1:]
		start := len(fl.ops)
		c.block(h.h.steps)
		// A handler that runs off its end ends the flow; an on_timeout one
		// ends every flow, since nobody is there to carry on with.
		end := op{kind: opEnd, reason: EndCompleted}
		if h.which == "on_timeout" {
			end = op{kind: opEnd, reason: EndTimeout, endAll: true}
		}
		fl.ops = append(fl.ops, end)
		c.setHandler(h.pc, h.which, start)
	}
	for _, h := range c.targets {
		if s, ok := c.ids[h.h.target]; ok {
			c.setHandler(h.pc, h.which, fl.addr[s.addr])
		} else {
			r.errorf(h.h.line, "%s: unknown step %q in flow %q", h.which, h.h.target, fl.ID)
		}
	}
	for pc := range fl.ops {
		o := &fl.ops[pc]
		if o.kind == opStep && o.s.kind == kindGoto {
			if s, ok := c.ids[o.s.target]; ok {
				o.jump = fl.addr[s.addr]
			} else {
				o.jump = -1
				r.errorf(o.s.targetLine, "goto: unknown step %q in flow %q", o.s.target, fl.ID)
			}
		}
	}
	c.checkReachable()
}

func (c *compiler) setHandler(pc int, which string, target int) {
	o := &c.fl.ops[pc]
	switch which {
	case "on_exhausted":
		o.onExhausted = target
	case "on_timeout":
		o.onTimeout = target
	case "on_error":
		o.onError = target
	}
}

func (c *compiler) block(steps []*step) {
	fl := c.fl
	for _, s := range steps {
		pc := len(fl.ops)
		if s.id != "" {
			if prev, dup := c.ids[s.id]; dup {
				c.r.errorf(s.line, "duplicate step id %q in flow %q (first at line %d)", s.id, fl.ID, prev.line)
			} else {
				c.ids[s.id] = s
			}
		}
		if _, dup := fl.addr[s.addr]; !dup {
			fl.addr[s.addr] = pc
		}
		fl.ops = append(fl.ops, op{kind: opStep, s: s, onExhausted: -1, onTimeout: -1, onError: -1})
		switch s.kind {
		case kindIf:
			c.block(s.then)
			if len(s.els) > 0 {
				j := len(fl.ops)
				fl.ops = append(fl.ops, op{kind: opJump})
				fl.ops[pc].jump = len(fl.ops)
				c.block(s.els)
				fl.ops[j].jump = len(fl.ops)
			} else {
				fl.ops[pc].jump = len(fl.ops)
			}
		case kindAsk:
			if s.ask != nil {
				c.handler(pc, "on_exhausted", s.ask.onExhausted)
				c.handler(pc, "on_timeout", s.ask.onTimeout)
			}
		case kindHTTP:
			c.handler(pc, "on_error", s.onError)
		}
	}
}

func (c *compiler) handler(pc int, which string, h handler) {
	switch {
	case !h.set:
	case h.target != "":
		c.targets = append(c.targets, pendingHandler{pc: pc, which: which, h: h})
	default:
		c.pending = append(c.pending, pendingHandler{pc: pc, which: which, h: h})
	}
}

// successors lists where control can go after ops[pc].
func (fl *Flow) successors(pc int) []int {
	o := fl.ops[pc]
	switch o.kind {
	case opJump:
		return []int{o.jump}
	case opEnd:
		return nil
	}
	var out []int
	add := func(t int) {
		if t >= 0 && t < len(fl.ops) {
			out = append(out, t)
		}
	}
	switch o.s.kind {
	case kindGoto:
		add(o.jump)
	case kindStart, kindHandoff, kindEnd:
	case kindIf:
		add(pc + 1)
		add(o.jump)
	case kindAsk:
		add(pc + 1)
		add(o.onExhausted)
		add(o.onTimeout)
	case kindHTTP:
		add(pc + 1)
		add(o.onError)
	default:
		add(pc + 1)
	}
	return out
}

func (c *compiler) checkReachable() {
	fl := c.fl
	if len(fl.ops) == 0 {
		return
	}
	seen := make([]bool, len(fl.ops))
	work := []int{0}
	seen[0] = true
	for len(work) > 0 {
		pc := work[len(work)-1]
		work = work[:len(work)-1]
		for _, n := range fl.successors(pc) {
			if !seen[n] {
				seen[n] = true
				work = append(work, n)
			}
		}
	}
	for pc, o := range fl.ops {
		if seen[pc] || o.kind != opStep {
			continue
		}
		// Report the first step of each unreachable run, not every one after it.
		if pc > 0 && !seen[pc-1] && fl.ops[pc-1].kind == opStep {
			continue
		}
		c.r.errorf(o.s.line, "step is unreachable in flow %q: no step leads to it", fl.ID)
	}
}
