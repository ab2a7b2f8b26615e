package config

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Validator is implemented by every component's typed configuration.
type Validator interface {
	Validate() error
}

// Decode decodes node into out strictly: keys that out does not have are
// errors (with a suggestion when one is close), type mismatches name the key
// and line, and when out implements Validator its errors are located in the
// file too. out should already hold the component's defaults; keys present in
// node override them. path is node's key path, used in messages.
func Decode(node *yaml.Node, out any, file, path string) error {
	if node == nil || node.Kind == 0 || isNull(node) {
		return validate(nil, out, file, path)
	}
	var errs Errors
	checkKeys(node, reflect.TypeOf(out), file, path, &errs)
	if len(errs) > 0 {
		return errs
	}
	if err := node.Decode(out); err != nil {
		return typeErrors(node, err, file, path)
	}
	return validate(node, out, file, path)
}

func validate(node *yaml.Node, out any, file, path string) error {
	v, ok := out.(Validator)
	if !ok {
		return nil
	}
	err := v.Validate()
	if err == nil {
		return nil
	}
	es := appendErr(nil, err)
	for _, e := range es {
		rel := e.Path
		e.Path = joinPath(path, rel)
		if e.File == "" {
			e.File = file
			if node != nil {
				e.Line = LineOf(node, rel)
			}
		}
	}
	return es
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && (n.Tag == "!!null" || (n.Tag == "" && (n.Value == "" || n.Value == "~" || n.Value == "null")))
}

var yamlLine = regexp.MustCompile(`^line (\d+): (.*)$`)

// typeErrors turns a *yaml.TypeError into located FieldErrors.
func typeErrors(root *yaml.Node, err error, file, path string) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return &FieldError{File: file, Line: root.Line, Path: path, Msg: err.Error()}
	}
	var es Errors
	for _, msg := range te.Errors {
		line := 0
		if m := yamlLine.FindStringSubmatch(msg); m != nil {
			line, _ = strconv.Atoi(m[1])
			msg = m[2]
		}
		msg = strings.ReplaceAll(msg, "cannot unmarshal ", "cannot use ")
		es = append(es, &FieldError{File: file, Line: line, Path: joinPath(path, pathAtLine(root, line)), Msg: msg})
	}
	return es
}

var nodeType = reflect.TypeOf(yaml.Node{})

// checkKeys walks node against t and reports keys t has no field for.
func checkKeys(node *yaml.Node, t reflect.Type, file, path string, errs *Errors) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nodeType {
		return // decoded later by the component that owns it
	}
	switch node.Kind {
	case yaml.DocumentNode:
		for _, c := range node.Content {
			checkKeys(c, t, file, path, errs)
		}
	case yaml.MappingNode:
		switch t.Kind() {
		case reflect.Struct:
			fields := yamlFields(t)
			for i := 0; i+1 < len(node.Content); i += 2 {
				k := node.Content[i]
				f, ok := fields[k.Value]
				if !ok {
					msg := "unknown key"
					if s := suggest(k.Value, fields); s != "" {
						msg += fmt.Sprintf(" (did you mean %q?)", s)
					}
					*errs = append(*errs, &FieldError{File: file, Line: k.Line, Path: joinPath(path, k.Value), Msg: msg})
					continue
				}
				checkKeys(node.Content[i+1], f, file, joinPath(path, k.Value), errs)
			}
		case reflect.Map:
			for i := 0; i+1 < len(node.Content); i += 2 {
				checkKeys(node.Content[i+1], t.Elem(), file, joinPath(path, node.Content[i].Value), errs)
			}
		}
	case yaml.SequenceNode:
		if t.Kind() == reflect.Slice || t.Kind() == reflect.Array {
			for i, c := range node.Content {
				checkKeys(c, t.Elem(), file, fmt.Sprintf("%s[%d]", path, i), errs)
			}
		}
	}
}

// yamlFields maps each YAML key of struct t (inline structs included) to its type.
func yamlFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("yaml")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if strings.Contains(opts, "inline") {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			for k, v := range yamlFields(ft) {
				out[k] = v
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = f.Type
	}
	return out
}

func suggest(key string, fields map[string]reflect.Type) string {
	// Accept up to half the key's length in edits (at least 2): "adress"
	// still finds "addr", "xyz" finds nothing.
	best, bestD := "", max(2, len(key)/2)+1
	names := make([]string, 0, len(fields))
	for k := range fields {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if d := editDistance(key, k); d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// LineOf returns the line of the value at path (relative to node), or of the
// deepest existing ancestor when the key is absent.
func LineOf(node *yaml.Node, path string) int {
	n := node
	for n != nil && n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	if n == nil {
		return 0
	}
	line := n.Line
	for _, seg := range splitPath(path) {
		var next *yaml.Node
		if idx, ok := seg.index(); ok {
			if n.Kind == yaml.SequenceNode && idx < len(n.Content) {
				next = n.Content[idx]
			}
		} else if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == string(seg) {
					next = n.Content[i+1]
					line = n.Content[i].Line
					break
				}
			}
		}
		if next == nil {
			return line
		}
		n = next
		if seg.isIndex() {
			line = n.Line
		}
	}
	return line
}

type segment string

func (s segment) isIndex() bool { _, ok := s.index(); return ok }

func (s segment) index() (int, bool) {
	if len(s) < 3 || s[0] != '[' || s[len(s)-1] != ']' {
		return 0, false
	}
	i, err := strconv.Atoi(string(s[1 : len(s)-1]))
	return i, err == nil
}

func splitPath(path string) []segment {
	var out []segment
	for _, part := range strings.Split(path, ".") {
		for part != "" {
			if i := strings.IndexByte(part, '['); i > 0 {
				out = append(out, segment(part[:i]))
				part = part[i:]
				continue
			}
			if part[0] == '[' {
				j := strings.IndexByte(part, ']')
				if j < 0 {
					out = append(out, segment(part))
					break
				}
				out = append(out, segment(part[:j+1]))
				part = part[j+1:]
				continue
			}
			out = append(out, segment(part))
			break
		}
	}
	return out
}

// pathAtLine finds the key path of the deepest node that starts on line.
func pathAtLine(root *yaml.Node, line int) string {
	best := ""
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, path)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				p := joinPath(path, n.Content[i].Value)
				if n.Content[i].Line == line || n.Content[i+1].Line == line {
					best = p
				}
				walk(n.Content[i+1], p)
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				p := fmt.Sprintf("%s[%d]", path, i)
				if c.Line == line && best == "" {
					best = p
				}
				walk(c, p)
			}
		}
	}
	walk(root, "")
	return best
}
