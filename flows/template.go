package flows

import (
	"errors"
	"net/url"
	"strings"
)

// template is text with {{ expression }} parts, such as
// "您好，{{contact.name}}" or "{{vars.shop_api}}/orders/{{slots.order_id}}".
type template struct {
	src   string
	parts []templatePart
	line  int
}

type templatePart struct {
	text string
	expr *program // nil for literal text
}

var errUnclosed = errors.New("has a {{ without a matching }}")

// parseTemplate splits src into literal text and compiled expressions.
func parseTemplate(src string, line int) (*template, error) {
	t := &template{src: src, line: line}
	rest := src
	for {
		i := strings.Index(rest, "{{")
		if i < 0 {
			if rest != "" {
				t.parts = append(t.parts, templatePart{text: rest})
			}
			return t, nil
		}
		if i > 0 {
			t.parts = append(t.parts, templatePart{text: rest[:i]})
		}
		j := strings.Index(rest[i+2:], "}}")
		if j < 0 {
			return nil, errUnclosed
		}
		code := strings.TrimSpace(rest[i+2 : i+2+j])
		if code == "" {
			return nil, errors.New("has an empty {{ }}")
		}
		p, err := compileExpr(code, line, false)
		if err != nil {
			return nil, err
		}
		t.parts = append(t.parts, templatePart{expr: p})
		rest = rest[i+2+j+2:]
	}
}

// static reports whether the template has no expressions.
func (t *template) static() bool {
	for _, p := range t.parts {
		if p.expr != nil {
			return false
		}
	}
	return true
}

// slots lists the slot names the template reads.
func (t *template) slots() []string {
	var out []string
	for _, p := range t.parts {
		if p.expr != nil {
			out = append(out, p.expr.slots...)
		}
	}
	return out
}

// render evaluates the template. A part that fails renders as nothing and the
// error is returned alongside the text so the caller can warn.
func (t *template) render(env *exprEnv) (string, error) {
	return t.renderWith(env, nil)
}

// renderURL renders a URL template: every value except a bare {{vars.x}} is
// percent-encoded, so a customer's answer cannot add path segments, query
// parameters or a different host.
func (t *template) renderURL(env *exprEnv) (string, error) {
	return t.renderWith(env, func(p *program, s string) string {
		if p.vars {
			return s
		}
		return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
	})
}

func (t *template) renderWith(env *exprEnv, escape func(*program, string) string) (string, error) {
	if len(t.parts) == 1 && t.parts[0].expr == nil {
		return t.parts[0].text, nil
	}
	var b strings.Builder
	var firstErr error
	for _, p := range t.parts {
		if p.expr == nil {
			b.WriteString(p.text)
			continue
		}
		v, err := p.expr.run(env)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		s := formatValue(v)
		if escape != nil {
			s = escape(p.expr, s)
		}
		b.WriteString(s)
	}
	return b.String(), firstErr
}

// value evaluates a template that is exactly one {{ expression }} to its typed
// value (a number stays a number in a JSON body); anything else renders to a
// string.
func (t *template) value(env *exprEnv) (any, error) {
	v, err := t.raw(env)
	return jsonValue(v), err
}

// raw is value before jsonValue: the expression's own result, for callers
// that report what jsonValue drops (turn.setComputed).
func (t *template) raw(env *exprEnv) (any, error) {
	if len(t.parts) == 1 && t.parts[0].expr != nil {
		return t.parts[0].expr.run(env)
	}
	return t.render(env)
}
