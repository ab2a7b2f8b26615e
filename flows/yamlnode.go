package flows

import (
	"errors"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// The flow files are decoded by walking yaml.Node trees rather than with
// struct tags, so that every value keeps its line for "file:line" problems,
// unknown keys are reported where they are, and polymorphic steps (one key
// names the step kind) need no intermediate types.

// field is a key and its value in a mapping.
type field struct {
	key   *yaml.Node
	value *yaml.Node
}

// mapping checks that n is a mapping whose keys are all in known, reporting
// unknown and duplicate keys, and returns the fields by key. what names the
// thing for messages ("step", "flow").
func (r reporter) mapping(n *yaml.Node, what string, known []string) map[string]field {
	if n.Kind != yaml.MappingNode {
		r.errorf(n.Line, "%s must be a mapping, got %s", what, kindName(n))
		return nil
	}
	out := make(map[string]field, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			r.errorf(k.Line, "%s has a non-scalar key", what)
			continue
		}
		if _, dup := out[k.Value]; dup {
			r.errorf(k.Line, "%s has key %q twice", what, k.Value)
			continue
		}
		if known != nil && !contains(known, k.Value) {
			r.errorf(k.Line, "unknown key %q in %s%s", k.Value, what, suggest(k.Value, known))
			continue
		}
		out[k.Value] = field{key: k, value: v}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// suggest returns " (did you mean "x"?)" when a known key is one edit away
// from the unknown one, else the list of known keys.
func suggest(got string, known []string) string {
	for _, k := range known {
		if editDistanceAtMostOne(got, k) {
			return ` (did you mean "` + k + `"?)`
		}
	}
	sorted := append([]string(nil), known...)
	sort.Strings(sorted)
	return " (known: " + strings.Join(sorted, ", ") + ")"
}

func editDistanceAtMostOne(a, b string) bool {
	if a == b {
		return true
	}
	if len(a) > len(b) {
		a, b = b, a
	}
	if len(b)-len(a) > 1 {
		return false
	}
	i := 0
	for i < len(a) && a[i] == b[i] {
		i++
	}
	if len(a) == len(b) {
		return a[i+1:] == b[i+1:] || (i+1 < len(a) && a[i] == b[i+1] && a[i+1] == b[i] && a[i+2:] == b[i+2:])
	}
	return a[i:] == b[i+1:]
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "nothing"
		}
		return "a scalar"
	case yaml.AliasNode:
		return "an alias"
	}
	return "an unknown node"
}

// str returns the scalar value of n. Numbers and booleans are accepted as
// their text (a keyword "1" or a value 10).
func (r reporter) str(n *yaml.Node, what string) (string, bool) {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		r.errorf(n.Line, "%s must be a string, got %s", what, kindName(n))
		return "", false
	}
	return n.Value, true
}

// strList accepts one scalar or a list of scalars.
func (r reporter) strList(n *yaml.Node, what string) []string {
	if n.Kind == yaml.ScalarNode && n.Tag != "!!null" {
		return []string{n.Value}
	}
	if n.Kind != yaml.SequenceNode {
		r.errorf(n.Line, "%s must be a string or a list of strings, got %s", what, kindName(n))
		return nil
	}
	out := make([]string, 0, len(n.Content))
	for _, c := range n.Content {
		if s, ok := r.str(c, what+" item"); ok {
			out = append(out, s)
		}
	}
	return out
}

// strListNodes is strList keeping each item's node (for per-item lines).
func (r reporter) strListNodes(n *yaml.Node, what string) []*yaml.Node {
	if n.Kind == yaml.ScalarNode && n.Tag != "!!null" {
		return []*yaml.Node{n}
	}
	if n.Kind != yaml.SequenceNode {
		r.errorf(n.Line, "%s must be a string or a list of strings, got %s", what, kindName(n))
		return nil
	}
	out := make([]*yaml.Node, 0, len(n.Content))
	for _, c := range n.Content {
		if _, ok := r.str(c, what+" item"); ok {
			out = append(out, c)
		}
	}
	return out
}

func (r reporter) integer(n *yaml.Node, what string) (int, bool) {
	s, ok := r.str(n, what)
	if !ok {
		return 0, false
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		r.errorf(n.Line, "%s must be a whole number, got %q", what, s)
		return 0, false
	}
	return v, true
}

func (r reporter) number(n *yaml.Node, what string) (float64, bool) {
	s, ok := r.str(n, what)
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		r.errorf(n.Line, "%s must be a number, got %q", what, s)
		return 0, false
	}
	return v, true
}

func (r reporter) boolean(n *yaml.Node, what string) (bool, bool) {
	s, ok := r.str(n, what)
	if !ok {
		return false, false
	}
	switch s {
	case "true", "yes", "on":
		return true, true
	case "false", "no", "off":
		return false, true
	}
	r.errorf(n.Line, "%s must be true or false, got %q", what, s)
	return false, false
}

// duration accepts Go durations ("90s", "10m", "2h") plus days ("3d").
func (r reporter) duration(n *yaml.Node, what string) (time.Duration, bool) {
	s, ok := r.str(n, what)
	if !ok {
		return 0, false
	}
	d, err := parseDuration(s)
	switch {
	case errors.Is(err, errDurationTooLong):
		r.errorf(n.Line, "%s must be a positive duration such as 30s, 10m, 2h or 3d, got %q: %v", what, s, err)
		return 0, false
	case err != nil || d <= 0:
		r.errorf(n.Line, "%s must be a positive duration such as 30s, 10m, 2h or 3d, got %q", what, s)
		return 0, false
	}
	return d, true
}

var dayDuration = regexp.MustCompile(`^(\d+)d(.*)$`)

// errDurationTooLong refuses days beyond what a Duration holds (about 292
// years), which would otherwise wrap around to a short or negative one.
var errDurationTooLong = errors.New("longer than kefu can count (about 292 years)")

func parseDuration(s string) (time.Duration, error) {
	if m := dayDuration.FindStringSubmatch(s); m != nil {
		const day = 24 * time.Hour
		days, err := strconv.ParseInt(m[1], 10, 64)
		if err != nil || days > int64(math.MaxInt64/day) {
			return 0, errDurationTooLong
		}
		rest := time.Duration(0)
		if m[2] != "" {
			if rest, err = time.ParseDuration(m[2]); err != nil {
				return 0, err
			}
		}
		d := time.Duration(days) * day
		if rest > math.MaxInt64-d {
			return 0, errDurationTooLong
		}
		return d + rest, nil
	}
	return time.ParseDuration(s)
}
