package flows

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/vm"
)

// Conditions, validations, response mappings and the {{ }} parts of templates
// are all written in one sandboxed expression language, expr
// (github.com/expr-lang/expr): no I/O, no access to Go beyond the names below.
//
// Names every expression can read:
//
//	slots.x              a collected value
//	contact.name, contact.id, contact.attributes.x, contact.tags
//	vars.x               an operator constant
//	input.text, input.event, input.key, input.intent, input.channel
//	http.status, http.error   the outcome of the last http step
//	now                  the time of the input (now.Hour(), now.Weekday() ...)
//	value                the parsed answer (validate only)
//	response, status     the decoded response body and status (http map only)

// exprEnv is the environment expressions run against. Declaring it as a
// struct tells the compiler every name and type, so a typo such as "slot.x"
// fails at load time instead of at run time, while the "any" fields (value,
// response) accept any member access.
type exprEnv struct {
	Slots    map[string]any    `expr:"slots"`
	Contact  map[string]any    `expr:"contact"`
	Vars     map[string]string `expr:"vars"`
	Input    map[string]any    `expr:"input"`
	HTTP     map[string]any    `expr:"http"`
	Now      time.Time         `expr:"now"`
	Value    any               `expr:"value"`
	Response any               `expr:"response"`
	Status   int               `expr:"status"`
}

// program is a compiled expression with where it came from.
type program struct {
	src   string
	prog  *vm.Program
	slots []string // slot names it reads, for the undefined-slot check
	line  int
	vars  bool // the expression is exactly vars.x (inserted into URLs unescaped)
}

// compileExpr compiles src. asBool requires a boolean result.
func compileExpr(src string, line int, asBool bool) (*program, error) {
	opts := []expr.Option{expr.Env(exprEnv{}), expr.DisableBuiltin("now")}
	if asBool {
		opts = append(opts, expr.AsBool())
	}
	p, err := expr.Compile(src, opts...)
	if err != nil {
		return nil, fmt.Errorf("expression %q does not compile: %s", src, firstLine(err.Error()))
	}
	out := &program{src: src, prog: p, line: line}
	node := p.Node()
	v := &slotVisitor{}
	ast.Walk(&node, v)
	out.slots = v.slots
	if m, ok := node.(*ast.MemberNode); ok {
		if id, ok := m.Node.(*ast.IdentifierNode); ok && id.Value == "vars" {
			out.vars = true
		}
	}
	return out, nil
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

type slotVisitor struct{ slots []string }

func (v *slotVisitor) Visit(n *ast.Node) {
	m, ok := (*n).(*ast.MemberNode)
	if !ok {
		return
	}
	id, ok := m.Node.(*ast.IdentifierNode)
	if !ok || id.Value != "slots" {
		return
	}
	if s, ok := m.Property.(*ast.StringNode); ok {
		v.slots = append(v.slots, s.Value)
	}
}

// run evaluates p against env.
func (p *program) run(env *exprEnv) (any, error) {
	v, err := expr.Run(p.prog, env)
	if err != nil {
		return nil, fmt.Errorf("evaluating %q: %s", p.src, firstLine(err.Error()))
	}
	return v, nil
}

// truth evaluates a condition; a failing condition counts as false.
func (p *program) truth(env *exprEnv) (bool, error) {
	v, err := p.run(env)
	if err != nil {
		return false, err
	}
	b, _ := v.(bool)
	return b, nil
}

// formatValue renders a value for a template: nothing for nil, whole numbers
// without a decimal point, times as "2006-01-02 15:04", lists and objects as
// JSON.
func formatValue(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case float32:
		return strconv.FormatFloat(float64(x), 'f', -1, 32)
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case bool:
		return strconv.FormatBool(x)
	case time.Time:
		return x.Format("2006-01-02 15:04")
	case time.Duration:
		return x.String()
	case fmt.Stringer:
		return x.String()
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// jsonValue converts an expression result into a value that survives a JSON
// round trip unchanged (State is stored as JSON): integers become float64,
// times become strings.
func jsonValue(v any) any {
	switch x := v.(type) {
	case nil, string, bool:
		return x
	case float64:
		return finite(x)
	case int:
		return float64(x)
	case int64:
		return float64(x)
	case int32:
		return float64(x)
	case float32:
		return finite(float64(x))
	case time.Time:
		return x.Format(time.RFC3339)
	case map[string]any, []any:
		b, err := json.Marshal(x)
		if err != nil {
			return formatValue(x)
		}
		var out any
		if json.Unmarshal(b, &out) != nil {
			return formatValue(x)
		}
		return out
	}
	return formatValue(v)
}

// finite returns f, or nil for NaN and ±Inf (say 0/0 or x/0 in an eval):
// JSON has no such numbers, so the conversation's state could not be saved
// and every turn on that path would fail. The slot is left unset instead.
func finite(f float64) any {
	if !isFinite(f) {
		return nil
	}
	return f
}

// isFinite reports whether JSON can hold f: not NaN, not ±Inf.
func isFinite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }
