package flows

import (
	"bytes"
	"errors"
	"io"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

var yamlLine = regexp.MustCompile(`line (\d+)`)

// parseFile decodes one flow file. Problems go to r; the flows that parsed
// cleanly enough to check further are returned.
func (r reporter) parseFile(data []byte) []*Flow {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var root yaml.Node
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return nil // an empty file holds no flows
		}
		r.errorf(yamlErrorLine(err), "invalid YAML: %s", strings.TrimPrefix(err.Error(), "yaml: "))
		return nil
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		r.errorf(extra.Line, "a flow file holds one YAML document; remove the second ---")
	}
	doc := &root
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		doc = doc.Content[0]
	}
	if doc.Kind == yaml.ScalarNode && doc.Tag == "!!null" {
		return nil
	}
	if doc.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(doc.Content); i += 2 {
			if doc.Content[i].Value == "tests" {
				r.errorf(doc.Content[i].Line, `"tests" belongs in a conversation test file; name it *_test.yaml`)
				return nil
			}
		}
	}
	fields := r.mapping(doc, "flow file", fileKeys)
	f, ok := fields["flows"]
	if !ok {
		if fields != nil {
			r.errorf(doc.Line, `flow file has no "flows" list`)
		}
		return nil
	}
	if f.value.Kind != yaml.SequenceNode {
		r.errorf(f.value.Line, "flows must be a list, got %s", kindName(f.value))
		return nil
	}
	var out []*Flow
	for _, n := range f.value.Content {
		if fl := r.parseFlow(n); fl != nil {
			out = append(out, fl)
		}
	}
	return out
}

// yamlErrorLine digs the line number out of a yaml.v3 error message.
func yamlErrorLine(err error) int {
	var te *yaml.TypeError
	msg := err.Error()
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg = te.Errors[0]
	}
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		n, _ := strconv.Atoi(m[1])
		return n
	}
	return 1
}

var idPattern = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]*$`)

func (r reporter) parseFlow(n *yaml.Node) *Flow {
	fields := r.mapping(n, "flow", flowKeys)
	if fields == nil {
		return nil
	}
	fl := &Flow{File: r.file, Line: n.Line}
	if f, ok := fields["id"]; ok {
		fl.ID, _ = r.str(f.value, "flow id")
		if fl.ID != "" && !idPattern.MatchString(fl.ID) {
			r.errorf(f.value.Line, "flow id %q may only hold letters, digits, _ . and -", fl.ID)
		}
	}
	if fl.ID == "" {
		r.errorf(n.Line, "flow has no id")
		return nil
	}
	if f, ok := fields["description"]; ok {
		fl.Description, _ = r.str(f.value, "description")
	}
	if f, ok := fields["priority"]; ok {
		fl.Priority, _ = r.integer(f.value, "priority")
	}
	if f, ok := fields["interruptible"]; ok {
		fl.Interruptible, _ = r.boolean(f.value, "interruptible")
	}
	if f, ok := fields["when"]; ok {
		if src, ok := r.str(f.value, "when"); ok {
			p, err := compileExpr(src, f.value.Line, true)
			if err != nil {
				r.errorf(f.value.Line, "when: %v", err)
			}
			fl.when = p
		}
	}
	if f, ok := fields["triggers"]; ok {
		r.parseTriggers(f.value, fl)
	}
	f, ok := fields["steps"]
	if !ok {
		r.errorf(n.Line, "flow %q has no steps", fl.ID)
		return fl
	}
	fl.steps = r.parseSteps(f.value, "")
	if len(fl.steps) == 0 && f.value.Kind == yaml.SequenceNode {
		r.errorf(f.value.Line, "flow %q has no steps", fl.ID)
	}
	return fl
}

func (r reporter) parseTriggers(n *yaml.Node, fl *Flow) {
	fields := r.mapping(n, "triggers", triggerKeys)
	t := &fl.Triggers
	norm := func(what string, nodes []*yaml.Node) []string {
		var out []string
		for _, k := range nodes {
			s := Normalize(k.Value)
			if s == "" {
				r.errorf(k.Line, "%s %q is empty after normalization", what, k.Value)
				continue
			}
			out = append(out, s)
		}
		return out
	}
	if f, ok := fields["keywords"]; ok {
		t.Keywords = norm("keyword", r.strListNodes(f.value, "keywords"))
	}
	if f, ok := fields["contains"]; ok {
		t.Contains = norm("contains keyword", r.strListNodes(f.value, "contains"))
	}
	if f, ok := fields["regex"]; ok {
		for _, k := range r.strListNodes(f.value, "regex") {
			re, err := regexp.Compile(k.Value)
			if err != nil {
				r.errorf(k.Line, "bad regex %q: %s", k.Value, strings.TrimPrefix(err.Error(), "error parsing regexp: "))
				continue
			}
			t.Regex = append(t.Regex, re)
		}
	}
	if f, ok := fields["events"]; ok {
		for _, k := range r.strListNodes(f.value, "events") {
			typ, key, _ := strings.Cut(k.Value, ":")
			typ = strings.TrimSpace(typ)
			if !contains(knownEvents, typ) {
				r.errorf(k.Line, "unknown event %q%s", typ, suggest(typ, knownEvents))
				continue
			}
			t.Events = append(t.Events, EventTrigger{Type: typ, Key: strings.TrimSpace(key)})
		}
	}
	if f, ok := fields["intent"]; ok {
		in := &Intent{Name: fl.ID, Flow: fl.ID}
		switch f.value.Kind {
		case yaml.ScalarNode:
			in.Name, _ = r.str(f.value, "intent")
		default:
			fs := r.mapping(f.value, "intent", intentKeys)
			if g, ok := fs["name"]; ok {
				in.Name, _ = r.str(g.value, "intent name")
			}
			if g, ok := fs["description"]; ok {
				in.Description, _ = r.str(g.value, "intent description")
			}
			if g, ok := fs["examples"]; ok {
				in.Examples = r.strList(g.value, "intent examples")
			}
		}
		if in.Name == "" {
			r.errorf(f.value.Line, "intent has no name")
		} else {
			t.Intent = in
		}
	}
}
