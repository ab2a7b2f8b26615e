package flows

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2024, 5, 1, 10, 0, 0, 0, time.FixedZone("CST", 8*3600))

func mustLoad(t testing.TB, body string) *Set {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "f.yaml"), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	set, err := LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

const askFlow = `
flows:
  - id: form
    triggers: { keywords: [form] }
    steps:
      - id: q1
        ask: first?
        slot: a
      - id: q2
        ask: second?
        slot: b
      - say: "done {{slots.a}} {{slots.b}}"
`

func text(s string, now time.Time) Input { return Input{Kind: InputText, Text: s, Now: now} }

func says(res Result) []string {
	var out []string
	for _, a := range res.Actions {
		if a.Kind == ActionSay {
			out = append(out, a.Text)
		}
	}
	return out
}

func TestStepIsPureAndStateRoundTrips(t *testing.T) {
	e := NewEngine(mustLoad(t, askFlow))
	res := e.Step(State{}, text("form", t0))
	res = e.Step(res.State, text("x", t0))
	before, _ := json.Marshal(res.State)
	snapshot := res.State
	again1 := e.Step(snapshot, text("y", t0.Add(time.Minute)))
	again2 := e.Step(snapshot, text("y", t0.Add(time.Minute)))
	after, _ := json.Marshal(snapshot)
	if string(before) != string(after) {
		t.Fatalf("Step modified its input state:\n%s\n%s", before, after)
	}
	if !reflect.DeepEqual(again1, again2) {
		t.Fatalf("same state and input gave different results:\n%+v\n%+v", again1, again2)
	}
	if got := says(again1); len(got) != 1 || got[0] != "done x y" {
		t.Fatalf("says = %q", got)
	}
	var decoded State
	if err := json.Unmarshal(before, &decoded); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(e.Step(decoded, text("y", t0.Add(time.Minute))), again1) {
		t.Fatal("a JSON round trip of the state changes the outcome")
	}
	if !again1.State.Idle() || (State{}).Waiting() {
		t.Fatal("Idle/Waiting wrong")
	}
}

func TestLostTimerAndLateAnswerStartFresh(t *testing.T) {
	e := NewEngine(mustLoad(t, askFlow+`
  - id: hi
    triggers: { keywords: [hi] }
    steps: [{ say: hello }]
`))
	res := e.Step(State{}, text("form", t0))
	if !res.State.Waiting() || res.State.Deadline != t0.Add(DefaultSessionTimeout) {
		t.Fatalf("state = %+v", res.State)
	}
	// The timer never fired (say the task queue lost it); an hour later the
	// customer writes: the stale question is dropped, the text handled fresh.
	late := e.Step(res.State, text("hi", t0.Add(time.Hour)))
	if got := says(late); len(got) != 1 || got[0] != "hello" {
		t.Fatalf("says = %q", got)
	}
	if !hasEnd(late, "form", EndTimeout) || late.State.Timer != "" {
		t.Fatalf("actions = %+v", late.Actions)
	}
}

func hasEnd(res Result, flow, reason string) bool {
	for _, a := range res.Actions {
		if a.Kind == ActionEnd && a.Flow == flow && a.Reason == reason {
			return true
		}
	}
	return false
}

func TestStaleTimerAndHTTPInputsAreIgnored(t *testing.T) {
	e := NewEngine(mustLoad(t, askFlow))
	res := e.Step(State{}, text("form", t0))
	first := res.State.Timer
	res = e.Step(res.State, text("x", t0.Add(time.Second)))
	stale := e.Step(res.State, Input{Kind: InputTimer, Token: first, Now: t0.Add(10 * time.Minute)})
	if !stale.Handled || len(stale.Actions) != 0 || !reflect.DeepEqual(stale.State, res.State) {
		t.Fatalf("stale timer changed something: %+v", stale)
	}
	h := e.Step(res.State, Input{Kind: InputHTTP, HTTP: &HTTPResponse{Token: "h99", Status: 200}, Now: t0})
	if !h.Handled || len(h.Actions) != 0 || len(h.Warnings) != 1 {
		t.Fatalf("stray http result: %+v", h)
	}
}

func TestSwapEndsFlowsWhoseStepIsGone(t *testing.T) {
	e := NewEngine(mustLoad(t, askFlow))
	res := e.Step(State{}, text("form", t0))
	e.Swap(mustLoad(t, `
flows:
  - id: form
    triggers: { keywords: [form] }
    steps:
      - id: other
        ask: changed?
        slot: c
`))
	next := e.Step(res.State, text("x", t0.Add(time.Second)))
	if !hasEnd(next, "form", EndChanged) || next.Handled || !next.State.Idle() {
		t.Fatalf("result = %+v", next)
	}
	// A waiting step that survived the edit keeps going.
	e.Swap(mustLoad(t, askFlow))
	res = e.Step(State{}, text("form", t0))
	e.Swap(mustLoad(t, strings.Replace(askFlow, "first?", "FIRST?", 1)))
	next = e.Step(res.State, text("x", t0.Add(time.Second)))
	if got := says(next); len(got) != 1 || got[0] != "second?" {
		t.Fatalf("says = %q", got)
	}
}

func TestCircuitBreakerCountsSteps(t *testing.T) {
	set := mustLoad(t, `
flows:
  - id: loop
    triggers: { keywords: [loop] }
    steps:
      - id: a
        say: tick
      - goto: a
`)
	e := NewEngine(set, WithConfig(Config{MaxStepsPerTurn: 10}))
	res := e.Step(State{}, text("loop", t0))
	if n := len(says(res)); n != 6 { // 5 ticks (10 steps) + the apology
		t.Fatalf("%d says: %q", n, says(res))
	}
	if !hasEnd(res, "loop", EndLoop) || !res.State.Idle() || len(res.Warnings) == 0 {
		t.Fatalf("result = %+v", res)
	}
}

func TestConfigValidateAndDefaults(t *testing.T) {
	if err := (Config{}).Validate(); err != nil {
		t.Fatal(err)
	}
	bad := Config{SessionTimeout: -1, MaxStepsPerTurn: -1, Reminders: []ReminderConfig{{After: 0}},
		Commands: Commands{Cancel: []string{"停"}, Handoff: []string{"停"}}}
	err := bad.Validate()
	for _, want := range []string{"session_timeout", "max_steps_per_turn", "reminders[0]", "both"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("want %q in %v", want, err)
		}
	}
	d := Config{}.WithDefaults()
	if d.SessionTimeout != DefaultSessionTimeout || d.MaxStepsPerTurn != DefaultMaxStepsPerTurn || d.Texts.Timeout == "" || d.Dir != "configs/flows" {
		t.Fatalf("defaults = %+v", d)
	}
}

func TestVarsExpandSelfURL(t *testing.T) {
	set := mustLoad(t, `
flows:
  - id: v
    triggers: { keywords: [v] }
    steps: [{ say: "{{vars.shop_api}}/x" }]
`)
	e := NewEngine(set, WithConfig(Config{Vars: map[string]string{"shop_api": "{{vars.self_url}}/demo/shop"}}))
	res := e.Step(State{}, Input{Kind: InputText, Text: "v", Vars: map[string]string{"self_url": "http://kefu.test"}})
	if got := says(res); len(got) != 1 || got[0] != "http://kefu.test/demo/shop/x" {
		t.Fatalf("says = %q", got)
	}
}

func TestWatcherReloadsGoodEditsAndKeepsOldOnBadOnes(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f.yaml")
	write := func(body string, mtime time.Time) {
		t.Helper()
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(path, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	flowText := func(reply string) string {
		return "flows:\n  - id: hi\n    triggers: { keywords: [hi] }\n    steps:\n      - say: " + reply + "\n"
	}
	write(flowText("v1"), t0)
	set, err := LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	e := NewEngine(set)
	w := NewWatcher(dir, e, time.Hour, nil)
	reply := func() string { return says(e.Step(State{}, text("hi", t0)))[0] }

	if ok, _ := w.Check(); ok {
		t.Fatal("reloaded without a change")
	}
	write(flowText("v2"), t0.Add(time.Second))
	if ok, probs := w.Check(); !ok || len(probs) != 0 || reply() != "v2" {
		t.Fatalf("good edit: reloaded=%v probs=%v reply=%q", ok, probs, reply())
	}
	write(flowText("v3")+"      - goto: nowhere\n", t0.Add(2*time.Second))
	ok, probs := w.Check()
	if ok || reply() != "v2" {
		t.Fatalf("bad edit replaced the flows: reloaded=%v reply=%q", ok, reply())
	}
	if len(probs) != 1 || probs[0].String() != path+":6: goto: unknown step \"nowhere\" in flow \"hi\"" {
		t.Fatalf("problems = %v", probs)
	}
	write(flowText("v4"), t0.Add(3*time.Second))
	if ok, _ := w.Check(); !ok || reply() != "v4" {
		t.Fatal("fixing the file did not reload")
	}
	// A new file is picked up too, and Run stops with its context.
	if err := os.WriteFile(filepath.Join(dir, "g.yaml"), []byte("flows:\n  - id: bye\n    triggers: { keywords: [bye] }\n    steps: [{say: ciao}]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	w.Interval = time.Millisecond
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	deadline := time.Now().Add(5 * time.Second)
	for e.Set().Flow("bye") == nil && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-done
	if e.Set().Flow("bye") == nil {
		t.Fatal("new file not loaded by Run")
	}
}

func TestNormalize(t *testing.T) {
	for in, want := range map[string]string{
		"你好！": "你好", " Hi ": "hi", "ＨＥＬＬＯ": "hello", "hello  world": "hello world",
		"…你好?": "你好", "1": "1", "": "", "a\tb": "a b", "！！": "", "查　订单": "查 订单",
	} {
		if got := Normalize(in); got != want {
			t.Errorf("Normalize(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseDate(t *testing.T) {
	for in, want := range map[string]string{
		"2024-05-01": "2024-05-01", "2024/5/3": "2024-05-03", "2024年5月3日": "2024-05-03", "5月3号": "2024-05-03",
		"明天": "2024-05-02", "昨天": "2024-04-30", "2月30日": "", "soon": "", "13/1": "",
	} {
		got, ok := parseDate(in, t0)
		if got != want || ok != (want != "") {
			t.Errorf("parseDate(%q) = %q %v, want %q", in, got, ok, want)
		}
	}
}

func TestParsePhone(t *testing.T) {
	for in, want := range map[string]bool{"13800138000": true, "+86 138-0013-8000": true, "8613800138000": true, "12800138000": false, "1380013800": false} {
		if _, ok := parsePhone(in); ok != want {
			t.Errorf("parsePhone(%q) = %v", in, ok)
		}
	}
}

func TestParseWhen(t *testing.T) {
	at, err := parseWhen("09:00", t0)
	if err != nil || !at.Equal(t0.Add(23*time.Hour)) {
		t.Fatalf("09:00 at 10:00 = %v %v", at, err)
	}
	if _, err := parseWhen("whenever", t0); err == nil {
		t.Fatal("want error")
	}
}

func TestStepAndSwapConcurrently(t *testing.T) {
	set := mustLoad(t, askFlow)
	e := NewEngine(set)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 200; i++ {
			e.Swap(set)
		}
	}()
	for i := 0; i < 4; i++ {
		t.Run("", func(t *testing.T) {
			t.Parallel()
			for j := 0; j < 200; j++ {
				res := e.Step(State{}, text("form", t0))
				if got := says(res); len(got) != 1 || got[0] != "first?" {
					t.Errorf("says %q", got)
					return
				}
			}
		})
	}
	<-done
}

func TestStartInputStartsANamedFlowEndingTheCurrentOne(t *testing.T) {
	set := mustLoad(t, `
flows:
  - id: ask
    triggers: { keywords: [ask] }
    steps:
      - ask: your name?
        slot: name
  - id: promo
    steps:
      - say: "new arrivals this week"
`)
	e := NewEngine(set)
	r := e.Step(State{}, Input{Kind: InputText, Text: "ask", Now: time.Now()})
	if !r.State.Waiting() {
		t.Fatal("the question should wait")
	}
	r = e.Step(r.State, Input{Kind: InputStart, Flow: "promo", Now: time.Now()})
	if !r.Handled || r.State.Waiting() {
		t.Fatalf("start: handled %v, waiting %v", r.Handled, r.State.Waiting())
	}
	var said []string
	for _, a := range r.Actions {
		if a.Kind == ActionSay {
			said = append(said, a.Text)
		}
	}
	if len(said) != 1 || said[0] != "new arrivals this week" {
		t.Fatalf("said %q", said)
	}
	if r := e.Step(State{}, Input{Kind: InputStart, Flow: "nope", Now: time.Now()}); r.Handled {
		t.Error("an unknown flow was started")
	}
}

// An eval or a {{ }} slot that divides by zero gives ±Inf or NaN, which JSON cannot hold: the
// slot is left unset with a warning, so the state still saves. Stored as is,
// it failed every turn on that path and the customer got no answer.
func TestComputedNumbersTheStateCannotHoldAreLeftUnset(t *testing.T) {
	e := NewEngine(mustLoad(t, `
flows:
  - id: avg
    triggers: { keywords: [avg] }
    steps:
      - ask: total?
        slot: total
        type: number
      - set: { eval: { avg: "slots.total / 0", ratio: "0.0 / 0.0", half: "slots.total / 2" }, slots: { per: "{{slots.total / 0}}" } }
      - say: '{{slots.avg ?? "none"}} {{slots.ratio ?? "none"}} {{slots.per ?? "none"}} {{slots.half}}'
`))
	res := e.Step(State{}, text("avg", t0))
	res = e.Step(res.State, text("10", t0))
	if _, err := json.Marshal(res.State); err != nil {
		t.Fatalf("the state cannot be stored: %v", err)
	}
	if got := says(res); len(got) != 1 || got[0] != "none none none 5" {
		t.Fatalf("says %q, want the three results unset", got)
	}
	if len(res.Warnings) != 3 {
		t.Fatalf("warnings %q, want one per dropped result", res.Warnings)
	}
	for _, w := range res.Warnings {
		if !strings.Contains(w, "left unset") || !strings.Contains(w, "line ") {
			t.Errorf("warning %q does not say the slot was left unset, and where", w)
		}
	}
}
