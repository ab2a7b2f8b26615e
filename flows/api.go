// Package flows is kefu's declarative conversation engine: a YAML model that
// operators write (docs/flows.md), a loader and linter that report every
// problem as "file:line: message", and a pure engine
//
//	(flows, state, input) -> (state, actions)
//
// that does no I/O. The router stores the State, executes the Actions, and
// feeds timer wake-ups and HTTP results back in as Inputs; Runner does the
// HTTP part of that loop for it.
package flows

import (
	"time"

	"github.com/kefu-gateway/kefu/adapters/message"
)

// InputKind says what woke the engine.
type InputKind string

// Input kinds.
const (
	InputText  InputKind = "text"  // the customer wrote something
	InputEvent InputKind = "event" // a platform event (subscribe, menu click, session start ...)
	InputTimer InputKind = "timer" // a timer the engine scheduled fired; Token says which
	InputHTTP  InputKind = "http"  // the result of the HTTP call the engine asked for
	// InputStart starts the flow named in Flow on kefu's own initiative (a
	// follow-up or campaign), ending whatever ran before.
	InputStart InputKind = "start"
)

// Contact is what the engine knows about the customer. Flows read it as
// {{contact.name}}, contact.attributes.x and contact.tags in expressions.
type Contact struct {
	ID         string            `json:"id,omitempty"`
	Name       string            `json:"name,omitempty"`
	Attributes map[string]string `json:"attributes,omitempty"`
	Tags       []string          `json:"tags,omitempty"`
}

// Input is one thing that happened in a conversation, as the engine sees it.
type Input struct {
	Kind InputKind
	// Text is the customer's text for InputText (a button press arrives as its
	// payload text).
	Text string
	// Event is a message.Event* type and EventKey its key (QR scene, menu key,
	// SessionFrom, site id) for InputEvent.
	Event    string
	EventKey string
	// Intent is the intent the router's classifier resolved for Text, or empty.
	// Set.Intents lists the intents flows listen for.
	Intent string
	// Channel is the adapter kind ("wechat_oa", "web", ...).
	Channel string
	// Buttons reports whether the channel renders quick-reply buttons. When it
	// does not, choices are appended to the text as a numbered menu and the
	// engine accepts the numbers as answers.
	Buttons bool
	// Now is the current time; the engine never reads a clock.
	Now time.Time
	// Contact is the customer's profile as the router loaded it.
	Contact Contact
	// Vars are per-input constants ({{vars.x}}), merged over Config.Vars; the
	// router sets self_url here.
	Vars map[string]string
	// Token identifies the timer (InputTimer) that fired.
	Token string
	// Flow is the flow to start for InputStart.
	Flow string
	// HTTP is the result of the call the engine asked for (InputHTTP).
	HTTP *HTTPResponse
}

// State is a conversation's position in the flows. It is JSON-serializable
// (the router stores it in Redis) and its zero value means idle.
type State struct {
	// Flow mirrors the id of the flow currently in charge (the top of Stack),
	// for logs and metrics; empty when idle.
	Flow string `json:"flow,omitempty"`
	// Stack holds the running flows, innermost last: a flow that called
	// another, or that is waiting while a digression runs, stays below it.
	Stack []Frame `json:"stack,omitempty"`
	// Slots are the values collected so far in this session.
	Slots map[string]any `json:"slots,omitempty"`
	// Offered are the choices of the last message, so a bare "2" picks the
	// second one on channels without buttons.
	Offered []message.Choice `json:"offered,omitempty"`
	// Timer is the token of the one pending timer (reminder or timeout), and
	// TimerAt when it fires.
	Timer   string    `json:"timer,omitempty"`
	TimerAt time.Time `json:"timer_at,omitzero"`
	// WaitSince is when the current question was asked; Deadline is when it
	// times out; Reminded counts the reminders already sent for it.
	WaitSince time.Time `json:"wait_since,omitzero"`
	Deadline  time.Time `json:"deadline,omitzero"`
	Reminded  int       `json:"reminded,omitempty"`
	// PendingHTTP is the token of the HTTP call the engine waits for.
	PendingHTTP string `json:"pending_http,omitempty"`
	// LastHTTP is the outcome of the last HTTP step, readable as http.status
	// and http.error in expressions.
	LastHTTP *HTTPOutcome `json:"last_http,omitempty"`
	// Seq numbers tokens and random choices so they are unique per session.
	Seq uint64 `json:"seq,omitempty"`
}

// Frame is one running flow.
type Frame struct {
	Flow string `json:"flow"`
	// At is the address of the step the flow paused on: a question waiting
	// for an answer, an HTTP call, or a call into another flow.
	At string `json:"at,omitempty"`
	// Waiting is true while At is a question waiting for the customer.
	Waiting bool `json:"waiting,omitempty"`
	// Attempts counts invalid answers to the current question.
	Attempts int `json:"attempts,omitempty"`
	// Digression marks a flow entered while the frame below waited for an
	// answer; when it ends the question below is asked again.
	Digression bool `json:"digression,omitempty"`
}

// Idle reports whether no flow is running.
func (s State) Idle() bool { return len(s.Stack) == 0 }

// Waiting reports whether a flow waits for the customer's answer.
func (s State) Waiting() bool { return len(s.Stack) > 0 && s.Stack[len(s.Stack)-1].Waiting }

// HTTPOutcome is the remembered outcome of the last HTTP step.
type HTTPOutcome struct {
	Status int    `json:"status,omitempty"`
	Error  string `json:"error,omitempty"`
}

// ActionKind names an action the router carries out.
type ActionKind string

// Action kinds. Fields used by each kind are listed on Action.
const (
	// ActionSay sends Text, with Choices as quick replies when the channel has
	// buttons (on other channels they are already in Text as a numbered menu).
	ActionSay ActionKind = "say"
	// ActionHandoff hands the conversation to a human: Queue, Reason.
	ActionHandoff ActionKind = "handoff"
	// ActionFollowup schedules a follow-up: FollowupID (stable: scheduling the
	// same id again replaces it), Delay or At, Flow or Text, CancelOnReply.
	ActionFollowup ActionKind = "followup"
	// ActionFollowupCancel cancels the follow-up FollowupID.
	ActionFollowupCancel ActionKind = "followup_cancel"
	// ActionContactSet sets the contact attribute Key to Value.
	ActionContactSet ActionKind = "contact_set"
	// ActionTagAdd and ActionTagRemove change the contact's Tags.
	ActionTagAdd    ActionKind = "tag_add"
	ActionTagRemove ActionKind = "tag_remove"
	// ActionTimerSchedule asks for an InputTimer with Token at At. There is at
	// most one pending timer per conversation: a new one replaces the old.
	ActionTimerSchedule ActionKind = "timer_schedule"
	// ActionTimerCancel cancels the timer Token.
	ActionTimerCancel ActionKind = "timer_cancel"
	// ActionEnd notes that Flow ended, and why (Reason: one of the End*
	// constants). It needs no execution; routers log or count it.
	ActionEnd ActionKind = "end"
)

// Reasons carried by ActionEnd.
const (
	EndCompleted = "completed" // the flow ran to its end or an end step
	EndCancelled = "cancelled" // the customer said a cancel command
	EndRestarted = "restarted" // the customer said a restart command
	EndTimeout   = "timeout"   // the customer stopped answering
	EndExhausted = "exhausted" // max_attempts invalid answers and no on_exhausted path
	EndHandoff   = "handoff"   // the conversation went to a human
	EndReplaced  = "replaced"  // a start step or a menu event replaced the flow
	EndLoop      = "loop"      // the per-turn step limit stopped a loop
	EndChanged   = "changed"   // a hot reload removed the step the flow waited on
	EndError     = "error"     // an HTTP step failed with no on_error, or the call depth ran out
)

// Action is one effect of a turn, carried out by the router in order. It is a
// tagged struct: Kind says which fields are set.
type Action struct {
	Kind          ActionKind       `json:"kind"`
	Text          string           `json:"text,omitempty"`
	Choices       []message.Choice `json:"choices,omitempty"`
	Queue         string           `json:"queue,omitempty"`
	Reason        string           `json:"reason,omitempty"`
	FollowupID    string           `json:"followup_id,omitempty"`
	Delay         time.Duration    `json:"delay,omitempty"`
	At            time.Time        `json:"at,omitzero"`
	Flow          string           `json:"flow,omitempty"`
	CancelOnReply bool             `json:"cancel_on_reply,omitempty"`
	Key           string           `json:"key,omitempty"`
	Value         string           `json:"value,omitempty"`
	Tags          []string         `json:"tags,omitempty"`
	Token         string           `json:"token,omitempty"`
}

// Result is the outcome of one engine step.
type Result struct {
	State   State
	Actions []Action
	// Handled is false when no flow matched the input; the router then falls
	// back to the knowledge base, the LLM, or an offer of a human. Timer and
	// HTTP inputs are always handled (a stale one is ignored quietly).
	Handled bool
	// AwaitHTTP is set when the flow stopped at an http step: the caller
	// performs the request and feeds the response back as an InputHTTP with
	// the same Token (Runner does this).
	AwaitHTTP *HTTPRequest
	// Warnings are runtime problems worth a log line (an expression that
	// failed on this data, a template value that could not be rendered);
	// the caller logs them, knowing the conversation (Runner does not).
	Warnings []string
}

// HTTPRequest is an HTTP call an http step asks for.
type HTTPRequest struct {
	Token   string            `json:"token"`
	Method  string            `json:"method"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    string            `json:"body,omitempty"`
	Timeout time.Duration     `json:"timeout"`
	Retries int               `json:"retries,omitempty"`
}

// HTTPResponse is the outcome of an HTTPRequest. Err is set for transport
// failures (timeout, refused, too large); Status is then 0.
type HTTPResponse struct {
	Token  string `json:"token"`
	Status int    `json:"status,omitempty"`
	Body   []byte `json:"body,omitempty"`
	Err    string `json:"err,omitempty"`
}
