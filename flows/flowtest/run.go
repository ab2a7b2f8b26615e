package flowtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/kefu-gateway/kefu/flows"
)

// Report is the outcome of a test run.
type Report struct {
	Passed, Failed int
	// Failures holds one line per failing case: file:line: case "name": what.
	Failures []string
	// Problems are errors in the flows or the test files that stopped cases
	// from running (each such file counts as one failure).
	Problems flows.Problems
}

// OK reports whether nothing failed.
func (r Report) OK() bool { return r.Failed == 0 && len(r.Problems.Errors()) == 0 }

// Summary is the closing line: "N passed, N failed".
func (r Report) Summary() string { return fmt.Sprintf("%d passed, %d failed", r.Passed, r.Failed) }

// RunPaths runs the conversation tests found under paths. A directory
// supplies both its flows and its *_test.yaml files; a test file is run
// against the flows of its own directory. base is the engine configuration
// (its Vars are merged under each file's and case's vars).
func RunPaths(paths []string, base flows.Config) Report {
	var rep Report
	type group struct {
		dir   string
		tests []string
	}
	var groups []*group
	byDir := map[string]*group{}
	for _, p := range paths {
		info, err := os.Stat(p)
		if err != nil {
			rep.Problems = append(rep.Problems, flows.Problem{File: p, Msg: fmt.Sprintf("cannot read: %v", err)})
			rep.Failed++
			continue
		}
		dir := p
		var tests []string
		if info.IsDir() {
			tests, _ = flows.TestFiles(p)
		} else {
			dir = filepath.Dir(p)
			if flows.IsTestFile(p) {
				tests = []string{p}
			} else {
				tests, _ = flows.TestFiles(dir)
			}
		}
		g := byDir[dir]
		if g == nil {
			g = &group{dir: dir}
			byDir[dir] = g
			groups = append(groups, g)
		}
		g.tests = append(g.tests, tests...)
	}
	for _, g := range groups {
		set, probs := flows.Lint(g.dir)
		if set == nil {
			rep.Problems = append(rep.Problems, probs.Errors()...)
			rep.Failed++
			continue
		}
		sort.Strings(g.tests)
		seen := map[string]bool{}
		for _, tf := range g.tests {
			if seen[tf] {
				continue
			}
			seen[tf] = true
			rep.add(RunFile(set, tf, base))
		}
	}
	return rep
}

func (r *Report) add(o Report) {
	r.Passed += o.Passed
	r.Failed += o.Failed
	r.Failures = append(r.Failures, o.Failures...)
	r.Problems = append(r.Problems, o.Problems...)
}

// RunFile runs the cases of one test file against set.
func RunFile(set *flows.Set, path string, base flows.Config) Report {
	var rep Report
	data, err := os.ReadFile(path)
	if err != nil {
		rep.Problems = append(rep.Problems, flows.Problem{File: path, Msg: fmt.Sprintf("reading test file: %v", err)})
		rep.Failed++
		return rep
	}
	f, err := parseFile(data)
	if err != nil {
		rep.Problems = append(rep.Problems, flows.Problem{File: path, Line: yamlLine(err), Msg: fmt.Sprintf("invalid test file: %v", err)})
		rep.Failed++
		return rep
	}
	if len(f.Tests) == 0 {
		rep.Problems = append(rep.Problems, flows.Problem{File: path, Line: 1, Msg: "test file has no tests"})
		rep.Failed++
		return rep
	}
	for _, c := range f.Tests {
		cfg := mergeConfig(base, f.Config, c.Config)
		cfg.Vars = merge(merge(cfg.Vars, f.Vars), c.Vars)
		if msg := runCase(set, cfg, c); msg != "" {
			rep.Failed++
			rep.Failures = append(rep.Failures, fmt.Sprintf("%s:%d: case %q: %s", path, c.line, c.Name, msg))
		} else {
			rep.Passed++
		}
	}
	return rep
}

// mergeConfig layers the file's and the case's config over base: every
// non-zero field of a later layer wins.
func mergeConfig(layers ...any) flows.Config {
	var out flows.Config
	for _, l := range layers {
		var c flows.Config
		switch x := l.(type) {
		case flows.Config:
			c = x
		case *flows.Config:
			if x == nil {
				continue
			}
			c = *x
		}
		overlay(&out, c)
	}
	return out
}

func overlay(dst *flows.Config, c flows.Config) {
	// A field-by-field overlay keeps zero values from wiping earlier layers.
	if c.Dir != "" {
		dst.Dir = c.Dir
	}
	if c.SessionTimeout != 0 {
		dst.SessionTimeout = c.SessionTimeout
	}
	if c.Reminders != nil {
		dst.Reminders = c.Reminders
	}
	if c.MaxStepsPerTurn != 0 {
		dst.MaxStepsPerTurn = c.MaxStepsPerTurn
	}
	if c.MaxDepth != 0 {
		dst.MaxDepth = c.MaxDepth
	}
	if c.MaxAttempts != 0 {
		dst.MaxAttempts = c.MaxAttempts
	}
	if len(c.Commands.Handoff) > 0 {
		dst.Commands.Handoff = c.Commands.Handoff
	}
	if len(c.Commands.Cancel) > 0 {
		dst.Commands.Cancel = c.Commands.Cancel
	}
	if len(c.Commands.Restart) > 0 {
		dst.Commands.Restart = c.Commands.Restart
	}
	if c.HandoffQueue != "" {
		dst.HandoffQueue = c.HandoffQueue
	}
	if c.HomeFlow != "" {
		dst.HomeFlow = c.HomeFlow
	}
	dst.Vars = merge(dst.Vars, c.Vars)
	if c.Texts != (flows.Texts{}) {
		dst.Texts = c.Texts
	}
	if c.HTTPTimeout != 0 {
		dst.HTTPTimeout = c.HTTPTimeout
	}
	if c.MaxHTTPPerTurn != 0 {
		dst.MaxHTTPPerTurn = c.MaxHTTPPerTurn
	}
}

func merge(a, b map[string]string) map[string]string {
	if len(b) == 0 {
		return a
	}
	out := make(map[string]string, len(a)+len(b))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

// parseFile decodes strictly (unknown keys are errors) and records the line
// of every case and turn.
func parseFile(data []byte) (*File, error) {
	var f File
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, err
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, err
	}
	tests := lookup(&root, "tests")
	if tests != nil && tests.Kind == yaml.SequenceNode {
		for i, cn := range tests.Content {
			if i >= len(f.Tests) {
				break
			}
			f.Tests[i].line = cn.Line
			if turns := lookup(cn, "turns"); turns != nil && turns.Kind == yaml.SequenceNode {
				for j, tn := range turns.Content {
					if j < len(f.Tests[i].Turns) {
						f.Tests[i].Turns[j].line = tn.Line
					}
				}
			}
		}
	}
	return &f, nil
}

func lookup(n *yaml.Node, key string) *yaml.Node {
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

func yamlLine(err error) int {
	var n int
	s := err.Error()
	if i := strings.Index(s, "line "); i >= 0 {
		fmt.Sscanf(s[i+5:], "%d", &n)
	}
	if n == 0 {
		n = 1
	}
	return n
}

// conversation is the fake router of one case.
type conversation struct {
	runner    *flows.Runner
	state     flows.State
	contact   flows.Contact
	now       time.Time
	timer     *pendingTimer
	followups map[string]flows.Action
	c         Case
}

type pendingTimer struct {
	token string
	at    time.Time
}

// runCase plays one case and returns the first mismatch, or "".
func runCase(set *flows.Set, cfg flows.Config, c Case) string {
	if err := cfg.Validate(); err != nil {
		return fmt.Sprintf("bad config: %v", err)
	}
	start, err := c.start()
	if err != nil {
		return fmt.Sprintf("bad start time: %v", err)
	}
	engine := flows.NewEngine(set, flows.WithConfig(cfg))
	conv := &conversation{
		runner:    flows.NewRunner(engine, &fakeDoer{fakes: c.HTTP}, nil),
		contact:   c.Contact,
		now:       start,
		followups: map[string]flows.Action{},
		c:         c,
	}
	if len(c.Turns) == 0 {
		return "case has no turns"
	}
	for i, turn := range c.Turns {
		res, msg := conv.play(turn)
		if msg == "" {
			msg = conv.check(turn, res)
		}
		if msg != "" {
			return fmt.Sprintf("turn %d (line %d, %s): %s", i+1, turn.line, describe(turn), msg)
		}
	}
	return ""
}

func describe(t Turn) string {
	switch {
	case t.User != nil:
		return "user: " + *t.User
	case t.Event != "":
		return "event: " + t.Event
	case t.Wait != "":
		return "wait: " + t.Wait
	}
	return "no input"
}

// turnResult is everything that came out of one turn.
type turnResult struct {
	actions []flows.Action
	handled bool
}

func (cv *conversation) play(t Turn) (turnResult, string) {
	n := 0
	if t.User != nil {
		n++
	}
	if t.Event != "" {
		n++
	}
	if t.Wait != "" {
		n++
	}
	if n != 1 {
		return turnResult{}, "a turn needs exactly one of user, event, wait"
	}
	in := flows.Input{Channel: cv.c.Channel, Buttons: cv.c.Buttons, Intent: t.Intent}
	switch {
	case t.User != nil:
		in.Kind, in.Text = flows.InputText, *t.User
	case t.Event != "":
		in.Kind = flows.InputEvent
		in.Event, in.EventKey, _ = strings.Cut(t.Event, ":")
	default:
		d, err := time.ParseDuration(t.Wait)
		if err != nil {
			return turnResult{}, fmt.Sprintf("bad wait %q", t.Wait)
		}
		end := cv.now.Add(d)
		var out turnResult
		out.handled = true
		for cv.timer != nil && !cv.timer.at.After(end) {
			cv.now = cv.timer.at
			tin := flows.Input{Kind: flows.InputTimer, Token: cv.timer.token, Channel: cv.c.Channel, Buttons: cv.c.Buttons}
			cv.timer = nil // a fired timer is consumed, as the router's task queue does
			res, msg := cv.step(tin)
			if msg != "" {
				return out, msg
			}
			out.actions = append(out.actions, res.Actions...)
		}
		cv.now = end
		return out, ""
	}
	res, msg := cv.step(in)
	return turnResult{actions: res.Actions, handled: res.Handled}, msg
}

// step runs one input the way the router does, storing the state as JSON in
// between (so every test also checks the state survives Redis) and applying
// the actions a router applies.
func (cv *conversation) step(in flows.Input) (flows.Result, string) {
	in.Now = cv.now
	in.Contact = cv.contact
	res := cv.runner.Run(context.Background(), cv.state, in)
	b, err := json.Marshal(res.State)
	if err != nil {
		return res, fmt.Sprintf("state does not encode as JSON: %v", err)
	}
	var st flows.State
	if err := json.Unmarshal(b, &st); err != nil {
		return res, fmt.Sprintf("state does not decode from JSON: %v", err)
	}
	cv.state = st
	if in.Kind == flows.InputText {
		for id, f := range cv.followups {
			if f.CancelOnReply {
				delete(cv.followups, id)
			}
		}
	}
	for _, a := range res.Actions {
		switch a.Kind {
		case flows.ActionTimerSchedule:
			cv.timer = &pendingTimer{token: a.Token, at: a.At}
		case flows.ActionTimerCancel:
			if cv.timer != nil && cv.timer.token == a.Token {
				cv.timer = nil
			}
		case flows.ActionContactSet:
			attrs := map[string]string{}
			for k, v := range cv.contact.Attributes {
				attrs[k] = v
			}
			attrs[a.Key] = a.Value
			cv.contact.Attributes = attrs
		case flows.ActionTagAdd, flows.ActionTagRemove:
			var tags []string
			for _, x := range cv.contact.Tags {
				if !(a.Kind == flows.ActionTagRemove && has(a.Tags, x)) {
					tags = append(tags, x)
				}
			}
			if a.Kind == flows.ActionTagAdd {
				for _, x := range a.Tags {
					if !has(tags, x) {
						tags = append(tags, x)
					}
				}
			}
			cv.contact.Tags = tags
		case flows.ActionFollowup:
			cv.followups[a.FollowupID] = a
		case flows.ActionFollowupCancel:
			delete(cv.followups, a.FollowupID)
		}
	}
	return res, ""
}

func has(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
