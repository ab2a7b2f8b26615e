package flows

import (
	"regexp"
	"time"

	"github.com/kefu-gateway/kefu/adapters/message"
)

// Set is an immutable, validated collection of flows. Build it with LoadDir,
// LoadFiles or Lint; an Engine runs it.
type Set struct {
	Flows []*Flow
	byID  map[string]*Flow
	index *triggerIndex
	// Files are the files the set was loaded from.
	Files []string
}

// Flow returns the flow with the given id, or nil.
func (s *Set) Flow(id string) *Flow {
	if s == nil {
		return nil
	}
	return s.byID[id]
}

// Intent is an intent a flow listens for, with what a classifier needs to
// recognise it.
type Intent struct {
	Name        string   `json:"name"`
	Flow        string   `json:"flow"`
	Description string   `json:"description,omitempty"`
	Examples    []string `json:"examples,omitempty"`
}

// Intents lists every intent trigger, in flow order, so the router can build
// a classifier and set Input.Intent.
func (s *Set) Intents() []Intent {
	if s == nil {
		return nil
	}
	var out []Intent
	for _, f := range s.Flows {
		if f.Triggers.Intent != nil {
			out = append(out, *f.Triggers.Intent)
		}
	}
	return out
}

// Flow is one named conversation with its triggers and steps.
type Flow struct {
	ID          string
	Description string
	// Priority orders flows whose triggers match the same input; higher wins.
	Priority int
	// Interruptible flows may start while another flow waits for an answer
	// (a digression); the waiting question is asked again afterwards.
	Interruptible bool
	Triggers      Triggers
	File          string
	Line          int

	when  *program
	steps []*step
	ops   []op
	addr  map[string]int // step address -> index in ops
}

// Triggers start a flow.
type Triggers struct {
	Keywords []string // the whole message, after Normalize
	Contains []string // anywhere in the message, after Normalize
	Regex    []*regexp.Regexp
	Events   []EventTrigger
	Intent   *Intent
}

// EventTrigger matches a platform event; an empty Key matches any key.
type EventTrigger struct {
	Type string
	Key  string
}

// knownEvents are the event types a trigger may name (message.Event*).
var knownEvents = []string{
	message.EventSubscribe, message.EventUnsubscribe, message.EventScan, message.EventClick,
	message.EventView, message.EventEnterSession, message.EventWebSessionStart,
}

// step is one parsed step.
type step struct {
	kind string
	id   string
	addr string
	line int

	say     []*template // say: variations; ask: prompt variations
	choices []choice

	ask *askSpec

	cond       *program
	then, els  []*step
	thenLine   int
	set        *setSpec
	http       *httpSpec
	onError    handler
	target     string // goto step id, call/start flow id
	targetLine int
	handoff    *handoffSpec
	followup   *followupSpec
	endAll     bool
}

type choice struct {
	title   *template
	payload string
	line    int
}

// choiceValue is a choice as offered: title rendered.
func (c choice) offered(title string) message.Choice {
	p := c.payload
	if p == "" {
		p = title
	}
	return message.Choice{Title: title, Payload: p}
}

// handler is an on_exhausted / on_timeout / on_error path: inline steps, or
// the id of a step to go to.
type handler struct {
	set    bool
	steps  []*step
	target string
	line   int
}

type askSpec struct {
	slot        string
	typ         string
	pattern     *regexp.Regexp
	min, max    *float64
	validate    *program
	invalid     []*template
	maxAttempts int
	onExhausted handler
	timeout     time.Duration
	reminders   []reminder
	onTimeout   handler
	skipIfSet   bool
}

type reminder struct {
	after time.Duration
	say   []*template
	text  string // a configured default reminder's prefix
	line  int
}

type setSpec struct {
	slots   []assign
	eval    []assign
	contact []assign
	tagAdd  []*template
	tagDel  []*template
}

type assign struct {
	name string
	tmpl *template
	expr *program
	line int
}

type httpSpec struct {
	method  string
	url     *template
	headers []assign
	body    *template
	json    any // tree of map[string]any / []any / *template / scalars
	timeout time.Duration
	retries int
	mapping []assign
}

type handoffSpec struct {
	queue  string
	reason *template
}

type followupSpec struct {
	id            string
	delay         time.Duration
	at            *template
	flow          string
	text          *template
	cancelOnReply bool
	cancel        string
}

// Step kinds: the key that names what a step does.
const (
	kindSay      = "say"
	kindAsk      = "ask"
	kindIf       = "if"
	kindSet      = "set"
	kindHTTP     = "http"
	kindGoto     = "goto"
	kindCall     = "call"
	kindStart    = "start"
	kindHandoff  = "handoff"
	kindFollowup = "followup"
	kindEnd      = "end"
)

var stepKinds = []string{kindSay, kindAsk, kindIf, kindSet, kindHTTP, kindGoto, kindCall, kindStart, kindHandoff, kindFollowup, kindEnd}

// stepKeys lists the keys each step kind accepts besides its own.
var stepKeys = map[string][]string{
	kindSay:      {"id", "choices"},
	kindAsk:      {"id", "slot", "type", "choices", "pattern", "min", "max", "validate", "invalid", "max_attempts", "on_exhausted", "timeout", "reminders", "on_timeout", "skip_if_set"},
	kindIf:       {"id", "then", "else"},
	kindSet:      {"id"},
	kindHTTP:     {"id", "on_error"},
	kindGoto:     {"id"},
	kindCall:     {"id"},
	kindStart:    {"id"},
	kindHandoff:  {"id"},
	kindFollowup: {"id"},
	kindEnd:      {"id"},
}

var (
	fileKeys     = []string{"flows"}
	flowKeys     = []string{"id", "description", "priority", "interruptible", "when", "triggers", "steps"}
	triggerKeys  = []string{"keywords", "contains", "regex", "events", "intent"}
	intentKeys   = []string{"name", "description", "examples"}
	choiceKeys   = []string{"title", "payload"}
	reminderKeys = []string{"after", "say"}
	setKeys      = []string{"slots", "eval", "contact", "tags"}
	tagKeys      = []string{"add", "remove"}
	httpKeys     = []string{"method", "url", "headers", "body", "json", "timeout", "retries", "map"}
	handoffKeys  = []string{"queue", "reason"}
	followupKeys = []string{"id", "delay", "at", "flow", "text", "cancel_on_reply", "cancel"}
	askTypes     = []string{"text", "number", "phone", "email", "date", "choice", "regex"}
	httpMethods  = []string{"GET", "POST", "PUT", "PATCH", "DELETE"}
)
