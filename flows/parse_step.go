package flows

import (
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// parseSteps parses a list of steps whose addresses start with path.
func (r reporter) parseSteps(n *yaml.Node, path string) []*step {
	if n.Kind != yaml.SequenceNode {
		r.errorf(n.Line, "steps must be a list, got %s", kindName(n))
		return nil
	}
	out := make([]*step, 0, len(n.Content))
	for i, c := range n.Content {
		p := strconv.Itoa(i)
		if path != "" {
			p = path + "." + p
		}
		if s := r.parseStep(c, p); s != nil {
			out = append(out, s)
		}
	}
	return out
}

// parseStep parses one step: a mapping with exactly one step-kind key, or the
// bare words end and handoff.
func (r reporter) parseStep(n *yaml.Node, path string) *step {
	s := &step{line: n.Line, addr: "@" + path}
	if n.Kind == yaml.ScalarNode {
		switch n.Value {
		case kindEnd, kindHandoff:
			s.kind = n.Value
			if s.kind == kindHandoff {
				s.handoff = &handoffSpec{}
			}
			return s
		}
		r.errorf(n.Line, "a step must be a mapping such as {say: ...}; got %q", n.Value)
		return nil
	}
	if n.Kind != yaml.MappingNode {
		r.errorf(n.Line, "a step must be a mapping, got %s", kindName(n))
		return nil
	}
	var kinds []string
	for i := 0; i < len(n.Content); i += 2 {
		if contains(stepKinds, n.Content[i].Value) {
			kinds = append(kinds, n.Content[i].Value)
		}
	}
	switch len(kinds) {
	case 0:
		var keys []string
		for i := 0; i < len(n.Content); i += 2 {
			keys = append(keys, n.Content[i].Value)
		}
		hint := ""
		if len(keys) > 0 {
			hint = suggest(keys[0], stepKinds)
		}
		r.errorf(n.Line, "step has no kind: it needs one of %s%s", strings.Join(stepKinds, ", "), hintFor(keys, hint))
		return nil
	case 1:
	default:
		r.errorf(n.Line, "step has more than one kind (%s); split it into separate steps", strings.Join(kinds, ", "))
		return nil
	}
	s.kind = kinds[0]
	fields := r.mapping(n, s.kind+" step", append([]string{s.kind}, stepKeys[s.kind]...))
	if f, ok := fields["id"]; ok {
		if id, ok := r.str(f.value, "step id"); ok {
			if !idPattern.MatchString(id) {
				r.errorf(f.value.Line, "step id %q may only hold letters, digits, _ . and -", id)
			} else {
				s.id, s.addr = id, id
			}
		}
	}
	v := fields[s.kind].value
	switch s.kind {
	case kindSay:
		s.say = r.templates(v, "say")
		s.choices = r.parseChoices(fields)
	case kindAsk:
		r.parseAsk(s, v, fields, path)
	case kindIf:
		if src, ok := r.str(v, "if"); ok {
			p, err := compileExpr(src, v.Line, true)
			if err != nil {
				r.errorf(v.Line, "if: %v", err)
			}
			s.cond = p
		}
		f, ok := fields["then"]
		if !ok {
			r.errorf(n.Line, "if step has no then")
		} else {
			s.thenLine = f.value.Line
			s.then = r.parseSteps(f.value, path+".then")
		}
		if f, ok := fields["else"]; ok {
			s.els = r.parseSteps(f.value, path+".else")
		}
	case kindSet:
		s.set = r.parseSet(v)
	case kindHTTP:
		s.http = r.parseHTTP(v)
		if f, ok := fields["on_error"]; ok {
			s.onError = r.parseHandler(f.value, path+".on_error")
		}
	case kindGoto, kindCall, kindStart:
		s.target, _ = r.str(v, s.kind+" target")
		s.targetLine = v.Line
	case kindHandoff:
		s.handoff = r.parseHandoff(v)
	case kindFollowup:
		s.followup = r.parseFollowup(v)
	case kindEnd:
		if v.Kind == yaml.ScalarNode && v.Tag != "!!null" {
			switch v.Value {
			case "all":
				s.endAll = true
			case "flow", "":
			default:
				r.errorf(v.Line, `end takes nothing, "flow" or "all"; got %q`, v.Value)
			}
		} else if !(v.Kind == yaml.ScalarNode) {
			r.errorf(v.Line, `end takes nothing, "flow" or "all"`)
		}
	}
	return s
}

func hintFor(keys []string, hint string) string {
	if len(keys) == 0 || !strings.Contains(hint, "did you mean") {
		return ""
	}
	return " — " + strings.TrimSpace(hint)
}

// templates parses a string or a list of strings (variations) as templates.
func (r reporter) templates(n *yaml.Node, what string) []*template {
	var out []*template
	for _, c := range r.strListNodes(n, what) {
		if t := r.template(c, what); t != nil {
			out = append(out, t)
		}
	}
	if len(out) == 0 && n.Kind == yaml.SequenceNode {
		r.errorf(n.Line, "%s has no text", what)
	}
	return out
}

func (r reporter) template(n *yaml.Node, what string) *template {
	src, ok := r.str(n, what)
	if !ok {
		return nil
	}
	t, err := parseTemplate(src, n.Line)
	if err != nil {
		r.errorf(n.Line, "%s template %s", what, err)
		return nil
	}
	return t
}

func (r reporter) parseChoices(fields map[string]field) []choice {
	f, ok := fields["choices"]
	if !ok {
		return nil
	}
	if f.value.Kind != yaml.SequenceNode {
		r.errorf(f.value.Line, "choices must be a list, got %s", kindName(f.value))
		return nil
	}
	var out []choice
	for _, c := range f.value.Content {
		ch := choice{line: c.Line}
		if c.Kind == yaml.ScalarNode {
			ch.title = r.template(c, "choice")
		} else {
			fs := r.mapping(c, "choice", choiceKeys)
			if g, ok := fs["title"]; ok {
				ch.title = r.template(g.value, "choice title")
			} else if fs != nil {
				r.errorf(c.Line, "choice has no title")
			}
			if g, ok := fs["payload"]; ok {
				ch.payload, _ = r.str(g.value, "choice payload")
			}
		}
		if ch.title != nil {
			out = append(out, ch)
		}
	}
	if len(out) == 0 {
		r.errorf(f.value.Line, "choices is empty")
	}
	return out
}

func (r reporter) parseHandler(n *yaml.Node, path string) handler {
	h := handler{set: true, line: n.Line}
	if n.Kind == yaml.ScalarNode {
		h.target, _ = r.str(n, "handler target")
		return h
	}
	h.steps = r.parseSteps(n, path)
	return h
}

func (r reporter) parseAsk(s *step, v *yaml.Node, fields map[string]field, path string) {
	a := &askSpec{typ: "text"}
	s.ask = a
	s.say = r.templates(v, "ask")
	s.choices = r.parseChoices(fields)
	if f, ok := fields["slot"]; ok {
		if a.slot, ok = r.str(f.value, "slot"); ok && !idPattern.MatchString(a.slot) {
			r.errorf(f.value.Line, "slot name %q may only hold letters, digits, _ . and -", a.slot)
		}
	} else {
		r.errorf(s.line, "ask step has no slot to store the answer in")
	}
	if f, ok := fields["type"]; ok {
		if t, ok := r.str(f.value, "type"); ok {
			if !contains(askTypes, t) {
				r.errorf(f.value.Line, "unknown answer type %q%s", t, suggest(t, askTypes))
			}
			a.typ = t
		}
	} else if len(s.choices) > 0 {
		a.typ = "choice"
	}
	if a.typ == "choice" && len(s.choices) == 0 {
		r.errorf(s.line, "ask of type choice has no choices")
	}
	if f, ok := fields["pattern"]; ok {
		if src, ok := r.str(f.value, "pattern"); ok {
			re, err := regexp.Compile(`^(?:` + src + `)$`)
			if err != nil {
				r.errorf(f.value.Line, "bad regex %q: %s", src, strings.TrimPrefix(err.Error(), "error parsing regexp: "))
			}
			a.pattern = re
		}
		if a.typ != "regex" {
			r.errorf(f.value.Line, "pattern needs type: regex")
		}
	} else if a.typ == "regex" {
		r.errorf(s.line, "ask of type regex has no pattern")
	}
	for _, k := range []string{"min", "max"} {
		if f, ok := fields[k]; ok {
			x, ok := r.number(f.value, k)
			if ok {
				if k == "min" {
					a.min = &x
				} else {
					a.max = &x
				}
			}
			if a.typ != "number" && a.typ != "text" {
				r.errorf(f.value.Line, "%s applies to number answers (value) and text answers (length)", k)
			}
		}
	}
	if f, ok := fields["validate"]; ok {
		if src, ok := r.str(f.value, "validate"); ok {
			p, err := compileExpr(src, f.value.Line, true)
			if err != nil {
				r.errorf(f.value.Line, "validate: %v", err)
			}
			a.validate = p
		}
	}
	if f, ok := fields["invalid"]; ok {
		a.invalid = r.templates(f.value, "invalid")
	}
	if f, ok := fields["max_attempts"]; ok {
		if a.maxAttempts, ok = r.integer(f.value, "max_attempts"); ok && a.maxAttempts < 1 {
			r.errorf(f.value.Line, "max_attempts must be at least 1")
		}
	}
	if f, ok := fields["on_exhausted"]; ok {
		a.onExhausted = r.parseHandler(f.value, path+".on_exhausted")
	}
	if f, ok := fields["timeout"]; ok {
		a.timeout, _ = r.duration(f.value, "timeout")
	}
	if f, ok := fields["reminders"]; ok {
		if f.value.Kind != yaml.SequenceNode {
			r.errorf(f.value.Line, "reminders must be a list, got %s", kindName(f.value))
		} else {
			a.reminders = []reminder{} // an empty list means no reminders, not the defaults
			var last int64
			for _, c := range f.value.Content {
				fs := r.mapping(c, "reminder", reminderKeys)
				if fs == nil {
					continue
				}
				rem := reminder{line: c.Line}
				if g, ok := fs["after"]; ok {
					rem.after, _ = r.duration(g.value, "reminder after")
				} else {
					r.errorf(c.Line, "reminder has no after")
				}
				if g, ok := fs["say"]; ok {
					rem.say = r.templates(g.value, "reminder say")
				}
				if int64(rem.after) <= last && rem.after > 0 {
					r.errorf(c.Line, "reminders must be in increasing order of after")
				}
				last = int64(rem.after)
				a.reminders = append(a.reminders, rem)
			}
		}
	}
	if a.timeout > 0 {
		for _, rem := range a.reminders {
			if rem.after >= a.timeout {
				r.errorf(rem.line, "reminder after %s comes at or after the timeout %s", rem.after, a.timeout)
			}
		}
	}
	if f, ok := fields["on_timeout"]; ok {
		a.onTimeout = r.parseHandler(f.value, path+".on_timeout")
	}
	if f, ok := fields["skip_if_set"]; ok {
		a.skipIfSet, _ = r.boolean(f.value, "skip_if_set")
	}
}

func (r reporter) parseSet(n *yaml.Node) *setSpec {
	fields := r.mapping(n, "set", setKeys)
	if fields == nil {
		return nil
	}
	s := &setSpec{}
	if len(fields) == 0 {
		r.errorf(n.Line, "set is empty; give slots, eval, contact or tags")
	}
	assigns := func(key string, asExpr bool) []assign {
		f, ok := fields[key]
		if !ok {
			return nil
		}
		fs := r.mapping(f.value, "set "+key, nil)
		var out []assign
		for i := 0; i+1 < len(f.value.Content); i += 2 {
			k, v := f.value.Content[i], f.value.Content[i+1]
			if _, ok := fs[k.Value]; !ok {
				continue
			}
			a := assign{name: k.Value, line: v.Line}
			if !idPattern.MatchString(a.name) {
				r.errorf(k.Line, "name %q may only hold letters, digits, _ . and -", a.name)
				continue
			}
			if asExpr {
				src, ok := r.str(v, key+" expression")
				if !ok {
					continue
				}
				p, err := compileExpr(src, v.Line, false)
				if err != nil {
					r.errorf(v.Line, "%s.%s: %v", key, a.name, err)
					continue
				}
				a.expr = p
			} else if a.tmpl = r.template(v, key+"."+a.name); a.tmpl == nil {
				continue
			}
			out = append(out, a)
		}
		return out
	}
	s.slots = assigns("slots", false)
	s.eval = assigns("eval", true)
	s.contact = assigns("contact", false)
	if f, ok := fields["tags"]; ok {
		fs := r.mapping(f.value, "set tags", tagKeys)
		if g, ok := fs["add"]; ok {
			for _, c := range r.strListNodes(g.value, "tags add") {
				if t := r.template(c, "tag"); t != nil {
					s.tagAdd = append(s.tagAdd, t)
				}
			}
		}
		if g, ok := fs["remove"]; ok {
			for _, c := range r.strListNodes(g.value, "tags remove") {
				if t := r.template(c, "tag"); t != nil {
					s.tagDel = append(s.tagDel, t)
				}
			}
		}
	}
	return s
}

func (r reporter) parseHTTP(n *yaml.Node) *httpSpec {
	fields := r.mapping(n, "http", httpKeys)
	if fields == nil {
		return nil
	}
	h := &httpSpec{method: "GET"}
	if f, ok := fields["method"]; ok {
		if m, ok := r.str(f.value, "method"); ok {
			h.method = strings.ToUpper(m)
			if !contains(httpMethods, h.method) {
				r.errorf(f.value.Line, "unknown HTTP method %q (use %s)", m, strings.Join(httpMethods, ", "))
			}
		}
	}
	if f, ok := fields["url"]; ok {
		h.url = r.template(f.value, "url")
		if h.url != nil && h.url.static() && !strings.HasPrefix(h.url.src, "http://") && !strings.HasPrefix(h.url.src, "https://") {
			r.errorf(f.value.Line, "url %q must start with http:// or https://", h.url.src)
		}
	} else {
		r.errorf(n.Line, "http has no url")
	}
	if f, ok := fields["headers"]; ok {
		fs := r.mapping(f.value, "headers", nil)
		for i := 0; i+1 < len(f.value.Content); i += 2 {
			k, v := f.value.Content[i], f.value.Content[i+1]
			if _, ok := fs[k.Value]; !ok {
				continue
			}
			if t := r.template(v, "header "+k.Value); t != nil {
				h.headers = append(h.headers, assign{name: k.Value, tmpl: t, line: v.Line})
			}
		}
	}
	if f, ok := fields["body"]; ok {
		h.body = r.template(f.value, "body")
	}
	if f, ok := fields["json"]; ok {
		if h.body != nil {
			r.errorf(f.key.Line, "http has both body and json; keep one")
		}
		h.json = r.jsonTree(f.value)
	}
	if f, ok := fields["timeout"]; ok {
		h.timeout, _ = r.duration(f.value, "timeout")
	}
	if f, ok := fields["retries"]; ok {
		if h.retries, ok = r.integer(f.value, "retries"); ok && (h.retries < 0 || h.retries > 5) {
			r.errorf(f.value.Line, "retries must be between 0 and 5")
		}
	}
	if f, ok := fields["map"]; ok {
		fs := r.mapping(f.value, "map", nil)
		for i := 0; i+1 < len(f.value.Content); i += 2 {
			k, v := f.value.Content[i], f.value.Content[i+1]
			if _, ok := fs[k.Value]; !ok {
				continue
			}
			if !idPattern.MatchString(k.Value) {
				r.errorf(k.Line, "slot name %q may only hold letters, digits, _ . and -", k.Value)
				continue
			}
			src, ok := r.str(v, "map expression")
			if !ok {
				continue
			}
			p, err := compileExpr(src, v.Line, false)
			if err != nil {
				r.errorf(v.Line, "map.%s: %v", k.Value, err)
				continue
			}
			h.mapping = append(h.mapping, assign{name: k.Value, expr: p, line: v.Line})
		}
	}
	return h
}

// jsonTree turns a YAML value into a JSON body template: strings are
// templates, other scalars keep their type.
func (r reporter) jsonTree(n *yaml.Node) any {
	switch n.Kind {
	case yaml.MappingNode:
		m := map[string]any{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			m[n.Content[i].Value] = r.jsonTree(n.Content[i+1])
		}
		return m
	case yaml.SequenceNode:
		l := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			l = append(l, r.jsonTree(c))
		}
		return l
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!null":
			return nil
		case "!!bool":
			return n.Value == "true"
		case "!!int", "!!float":
			f, err := strconv.ParseFloat(n.Value, 64)
			if err == nil {
				return f
			}
		}
		return r.template(n, "json value")
	}
	r.errorf(n.Line, "json holds %s", kindName(n))
	return nil
}

func (r reporter) parseHandoff(n *yaml.Node) *handoffSpec {
	h := &handoffSpec{}
	switch {
	case n.Kind == yaml.ScalarNode && n.Tag == "!!null":
	case n.Kind == yaml.ScalarNode:
		h.queue = n.Value
	default:
		fields := r.mapping(n, "handoff", handoffKeys)
		if f, ok := fields["queue"]; ok {
			h.queue, _ = r.str(f.value, "queue")
		}
		if f, ok := fields["reason"]; ok {
			h.reason = r.template(f.value, "reason")
		}
	}
	return h
}

func (r reporter) parseFollowup(n *yaml.Node) *followupSpec {
	fields := r.mapping(n, "followup", followupKeys)
	if fields == nil {
		return nil
	}
	fu := &followupSpec{cancelOnReply: true}
	if f, ok := fields["id"]; ok {
		fu.id, _ = r.str(f.value, "followup id")
	}
	if f, ok := fields["cancel"]; ok {
		fu.cancel, _ = r.str(f.value, "cancel")
		if len(fields) > 1 {
			r.errorf(n.Line, "a followup with cancel takes nothing else")
		}
		return fu
	}
	if f, ok := fields["delay"]; ok {
		fu.delay, _ = r.duration(f.value, "delay")
	}
	if f, ok := fields["at"]; ok {
		fu.at = r.template(f.value, "at")
		if _, ok := fields["delay"]; ok {
			r.errorf(f.key.Line, "followup has both delay and at; keep one")
		}
	}
	if _, ok := fields["delay"]; !ok && fu.at == nil {
		r.errorf(n.Line, "followup needs delay or at")
	}
	if f, ok := fields["flow"]; ok {
		fu.flow, _ = r.str(f.value, "followup flow")
	}
	if f, ok := fields["text"]; ok {
		fu.text = r.template(f.value, "followup text")
		if fu.flow != "" {
			r.errorf(f.key.Line, "followup has both flow and text; keep one")
		}
	}
	if fu.flow == "" && fu.text == nil {
		r.errorf(n.Line, "followup needs a flow to start or a text to send")
	}
	if f, ok := fields["cancel_on_reply"]; ok {
		fu.cancelOnReply, _ = r.boolean(f.value, "cancel_on_reply")
	}
	return fu
}
