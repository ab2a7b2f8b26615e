package flows

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// LoadDir loads every flow file under dir (recursively; conversation tests,
// *_test.yaml, are skipped). A missing dir is an empty set. When any file has
// an error the error is Problems and no set is returned; warnings are
// dropped (Lint returns them).
func LoadDir(dir string) (*Set, error) {
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return newSet(nil, nil), nil
	}
	set, probs := Lint(dir)
	if errs := probs.Errors(); len(errs) > 0 {
		return nil, errs
	}
	return set, nil
}

// LoadFiles loads the given flow files into one set, as LoadDir does.
func LoadFiles(paths []string) (*Set, error) {
	set, probs := Lint(paths...)
	if errs := probs.Errors(); len(errs) > 0 {
		return nil, errs
	}
	return set, nil
}

// Lint loads the flow files found under paths (files or directories) and
// returns every problem, errors and warnings, sorted by file and line. The
// set is nil when there is an error.
func Lint(paths ...string) (*Set, Problems) {
	var probs Problems
	files, missing := FlowFiles(paths...)
	probs = append(probs, missing...)
	var flows []*Flow
	for _, path := range files {
		r := reporter{file: path, probs: &probs}
		data, err := os.ReadFile(path)
		if err != nil {
			r.errorf(0, "reading flow file: %v", err)
			continue
		}
		for _, fl := range r.parseFile(data) {
			r.compileFlow(fl)
			flows = append(flows, fl)
		}
	}
	seenID := map[string]*Flow{}
	for _, fl := range flows {
		if first, dup := seenID[fl.ID]; dup {
			reporter{file: fl.File, probs: &probs}.errorf(fl.Line, "duplicate flow id %q (first in %s:%d)", fl.ID, first.File, first.Line)
			continue
		}
		seenID[fl.ID] = fl
	}
	set := newSet(flows, files)
	checkSet(set, &probs)
	probs.Sort()
	if len(probs.Errors()) > 0 {
		return nil, probs
	}
	return set, probs
}

// FlowFiles lists the flow files under paths: a file is taken as is, a
// directory is walked for *.yaml and *.yml files that are not conversation
// tests (*_test.yaml) and not hidden. Paths that do not exist are returned
// as problems.
func FlowFiles(paths ...string) ([]string, Problems) {
	return findFiles(paths, func(name string) bool { return isYAML(name) && !IsTestFile(name) })
}

// TestFiles lists the conversation test files (*_test.yaml, *_test.yml)
// under paths.
func TestFiles(paths ...string) ([]string, Problems) {
	return findFiles(paths, IsTestFile)
}

// IsTestFile reports whether name is a conversation test file.
func IsTestFile(name string) bool {
	return strings.HasSuffix(name, "_test.yaml") || strings.HasSuffix(name, "_test.yml")
}

func isYAML(name string) bool {
	return strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml")
}

func findFiles(paths []string, want func(string) bool) ([]string, Problems) {
	var out []string
	var probs Problems
	seen := map[string]bool{}
	for _, p := range paths {
		info, err := os.Stat(p)
		if err != nil {
			probs = append(probs, Problem{File: p, Line: 0, Msg: fmt.Sprintf("cannot read: %v", unwrapPathError(err))})
			continue
		}
		if !info.IsDir() {
			if !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
			continue
		}
		var found []string
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			name := d.Name()
			if d.IsDir() {
				if path != p && strings.HasPrefix(name, ".") {
					return filepath.SkipDir
				}
				return nil
			}
			if !strings.HasPrefix(name, ".") && want(name) && !seen[path] {
				seen[path] = true
				found = append(found, path)
			}
			return nil
		})
		if err != nil {
			probs = append(probs, Problem{File: p, Msg: fmt.Sprintf("listing flow files: %v", err)})
		}
		sort.Strings(found)
		out = append(out, found...)
	}
	return out, probs
}

func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func newSet(flows []*Flow, files []string) *Set {
	s := &Set{byID: map[string]*Flow{}, Files: files}
	for _, fl := range flows {
		if _, dup := s.byID[fl.ID]; dup {
			continue
		}
		s.byID[fl.ID] = fl
		s.Flows = append(s.Flows, fl)
	}
	s.index = buildIndex(s.Flows)
	return s
}

// checkSet runs the checks that need every flow: duplicate ids, flow targets,
// slots read but never set, and the warnings.
func checkSet(set *Set, probs *Problems) {
	all := map[string]*Flow{}
	for _, fl := range set.Flows {
		all[fl.ID] = fl
	}
	defined := map[string]bool{}
	referenced := map[string]bool{}
	for _, fl := range set.Flows {
		walkSteps(fl.steps, func(s *step) {
			for _, n := range s.slotsWritten() {
				defined[n] = true
			}
		})
	}
	for _, fl := range set.Flows {
		r := reporter{file: fl.File, probs: probs}
		progs := []*program{}
		if fl.when != nil {
			progs = append(progs, fl.when)
		}
		walkSteps(fl.steps, func(s *step) {
			progs = append(progs, s.programs()...)
			switch s.kind {
			case kindCall, kindStart:
				if all[s.target] == nil {
					r.errorf(s.targetLine, "%s: unknown flow %q%s", s.kind, s.target, suggestFlow(s.target, set))
				} else {
					referenced[s.target] = true
				}
				if s.kind == kindCall && s.target == fl.ID {
					r.errorf(s.targetLine, "call: flow %q calls itself; use goto to loop", fl.ID)
				}
			case kindFollowup:
				if s.followup != nil && s.followup.flow != "" {
					if all[s.followup.flow] == nil {
						r.errorf(s.line, "followup: unknown flow %q%s", s.followup.flow, suggestFlow(s.followup.flow, set))
					} else {
						referenced[s.followup.flow] = true
					}
				}
			}
		})
		reported := map[string]bool{}
		for _, p := range progs {
			if p == nil {
				continue
			}
			for _, name := range p.slots {
				if !defined[name] && !reported[name] {
					reported[name] = true
					r.errorf(p.line, "slots.%s is never set: no ask, set or http map in any flow fills it", name)
				}
			}
		}
	}
	for _, fl := range set.Flows {
		t := fl.Triggers
		if len(t.Keywords)+len(t.Contains)+len(t.Regex)+len(t.Events) == 0 && t.Intent == nil && !referenced[fl.ID] {
			reporter{file: fl.File, probs: probs}.warnf(fl.Line, "flow %q has no triggers and no step calls, starts or schedules it", fl.ID)
		}
	}
	checkKeywordClashes(set, probs)
	checkChoicePayloads(set, probs)
}

func suggestFlow(id string, set *Set) string {
	for _, fl := range set.Flows {
		if editDistanceAtMostOne(id, fl.ID) {
			return fmt.Sprintf(" (did you mean %q?)", fl.ID)
		}
	}
	return ""
}

// checkKeywordClashes warns when two flows of the same priority claim the same
// exact keyword and neither has a guard: only the first would ever run.
func checkKeywordClashes(set *Set, probs *Problems) {
	seen := map[string]*Flow{}
	for _, fl := range set.Flows {
		for _, k := range fl.Triggers.Keywords {
			prev, ok := seen[k]
			if !ok {
				seen[k] = fl
				continue
			}
			if prev != fl && prev.Priority == fl.Priority && prev.when == nil && fl.when == nil {
				reporter{file: fl.File, probs: probs}.warnf(fl.Line, "keyword %q also triggers flow %q (%s:%d); only the first one runs", k, prev.ID, prev.File, prev.Line)
			}
		}
	}
}

// checkChoicePayloads warns when a say step offers a choice that starts no
// flow: a customer pressing it would fall through to the knowledge base.
func checkChoicePayloads(set *Set, probs *Problems) {
	for _, fl := range set.Flows {
		walkSteps(fl.steps, func(s *step) {
			if s.kind != kindSay {
				return
			}
			for _, c := range s.choices {
				if c.title == nil || (c.payload == "" && !c.title.static()) {
					continue
				}
				p := c.payload
				if p == "" {
					p = c.title.src
				}
				if len(set.index.matchText(Normalize(p), nil)) == 0 && !isDefaultCommand(p) {
					reporter{file: fl.File, probs: probs}.warnf(c.line, "choice %q triggers no flow", p)
				}
			}
		})
	}
}

// walkSteps calls fn for every step, nested ones included.
func walkSteps(steps []*step, fn func(*step)) {
	for _, s := range steps {
		fn(s)
		walkSteps(s.then, fn)
		walkSteps(s.els, fn)
		walkSteps(s.onError.steps, fn)
		if s.ask != nil {
			walkSteps(s.ask.onExhausted.steps, fn)
			walkSteps(s.ask.onTimeout.steps, fn)
		}
	}
}

// slotsWritten lists the slots a step fills.
func (s *step) slotsWritten() []string {
	var out []string
	if s.ask != nil && s.ask.slot != "" {
		out = append(out, s.ask.slot)
	}
	if s.set != nil {
		for _, a := range s.set.slots {
			out = append(out, a.name)
		}
		for _, a := range s.set.eval {
			out = append(out, a.name)
		}
	}
	if s.http != nil {
		for _, a := range s.http.mapping {
			out = append(out, a.name)
		}
	}
	return out
}

// programs lists every expression a step holds, template parts included.
func (s *step) programs() []*program {
	var out []*program
	addT := func(ts ...*template) {
		for _, t := range ts {
			if t == nil {
				continue
			}
			for _, p := range t.parts {
				if p.expr != nil {
					out = append(out, p.expr)
				}
			}
		}
	}
	addT(s.say...)
	for _, c := range s.choices {
		addT(c.title)
	}
	if s.cond != nil {
		out = append(out, s.cond)
	}
	if a := s.ask; a != nil {
		if a.validate != nil {
			out = append(out, a.validate)
		}
		addT(a.invalid...)
		for _, r := range a.reminders {
			addT(r.say...)
		}
	}
	if st := s.set; st != nil {
		for _, as := range [][]assign{st.slots, st.eval, st.contact} {
			for _, a := range as {
				addT(a.tmpl)
				if a.expr != nil {
					out = append(out, a.expr)
				}
			}
		}
		addT(st.tagAdd...)
		addT(st.tagDel...)
	}
	if h := s.http; h != nil {
		addT(h.url, h.body)
		for _, a := range h.headers {
			addT(a.tmpl)
		}
		for _, a := range h.mapping {
			out = append(out, a.expr)
		}
		walkJSON(h.json, func(t *template) { addT(t) })
	}
	if s.handoff != nil {
		addT(s.handoff.reason)
	}
	if s.followup != nil {
		addT(s.followup.at, s.followup.text)
	}
	return out
}

func walkJSON(v any, fn func(*template)) {
	switch x := v.(type) {
	case *template:
		if x != nil {
			fn(x)
		}
	case map[string]any:
		for _, c := range x {
			walkJSON(c, fn)
		}
	case []any:
		for _, c := range x {
			walkJSON(c, fn)
		}
	}
}

func isDefaultCommand(s string) bool {
	n := Normalize(s)
	for _, list := range [][]string{DefaultCommands.Handoff, DefaultCommands.Cancel, DefaultCommands.Restart} {
		for _, w := range list {
			if Normalize(w) == n {
				return true
			}
		}
	}
	return false
}
