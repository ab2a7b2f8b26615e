package flowtest

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/kefu-gateway/kefu/flows"
)

// check compares a turn's outcome with its expectations and returns the
// first difference as "what: want X, got Y".
func (cv *conversation) check(t Turn, r turnResult) string {
	var says []string
	var lastChoices []string
	for _, a := range r.actions {
		if a.Kind == flows.ActionSay {
			says = append(says, a.Text)
			lastChoices = nil
			for _, c := range a.Choices {
				lastChoices = append(lastChoices, c.Title)
			}
		}
	}
	all := strings.Join(says, "\n")
	if t.Bot != nil && !equal(says, *t.Bot) {
		return fmt.Sprintf("bot: want %s, got %s", quote(*t.Bot), quote(says))
	}
	for _, s := range t.BotContains {
		if !strings.Contains(all, s) {
			return fmt.Sprintf("bot_contains: want text containing %q, got %s", s, quote(says))
		}
	}
	for _, s := range t.BotNotContains {
		if strings.Contains(all, s) {
			return fmt.Sprintf("bot_not_contains: want no %q, got %s", s, quote(says))
		}
	}
	if t.Choices != nil && !equal(lastChoices, *t.Choices) {
		return fmt.Sprintf("choices: want %s, got %s", quote(*t.Choices), quote(lastChoices))
	}
	for k, want := range t.Slots {
		got, ok := cv.state.Slots[k]
		gs := formatSlot(got)
		if want == "" && !ok {
			continue
		}
		if !ok || gs != want {
			if !ok {
				gs = "(unset)"
			}
			return fmt.Sprintf("slots.%s: want %q, got %q", k, want, gs)
		}
	}
	for _, tag := range t.Tags {
		if !has(cv.contact.Tags, tag) {
			return fmt.Sprintf("tags: want %q, got %s", tag, quote(cv.contact.Tags))
		}
	}
	for _, tag := range t.NoTags {
		if has(cv.contact.Tags, tag) {
			return fmt.Sprintf("no_tags: want no %q, got %s", tag, quote(cv.contact.Tags))
		}
	}
	for k, want := range t.Contact {
		if got := cv.contact.Attributes[k]; got != want {
			return fmt.Sprintf("contact.%s: want %q, got %q", k, want, got)
		}
	}
	if msg := matchActions(t.Actions, r.actions); msg != "" {
		return msg
	}
	for _, k := range t.NoActions {
		for _, a := range r.actions {
			if string(a.Kind) == k {
				return fmt.Sprintf("no_actions: want no %s, got %s", k, kinds(r.actions))
			}
		}
	}
	if t.Handled != nil && *t.Handled != r.handled {
		return fmt.Sprintf("handled: want %v, got %v", *t.Handled, r.handled)
	}
	if t.Flow != nil && *t.Flow != cv.state.Flow {
		return fmt.Sprintf("flow: want %q, got %q", *t.Flow, cv.state.Flow)
	}
	if t.Followups != nil && *t.Followups != len(cv.followups) {
		return fmt.Sprintf("followups: want %d pending, got %d", *t.Followups, len(cv.followups))
	}
	return ""
}

func formatSlot(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case float64:
		b, _ := json.Marshal(x)
		return string(b)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// matchActions checks that want appears in got as a subsequence.
func matchActions(want []ActionExpect, got []flows.Action) string {
	i := 0
	for _, w := range want {
		found := false
		for ; i < len(got); i++ {
			if actionMatches(w, got[i]) {
				found = true
				i++
				break
			}
		}
		if !found {
			return fmt.Sprintf("actions: want %s%s in order, got %s", w.Kind, fieldsText(w.Fields), kinds(got))
		}
	}
	return ""
}

func actionMatches(w ActionExpect, a flows.Action) bool {
	if string(a.Kind) != w.Kind {
		return false
	}
	b, _ := json.Marshal(a)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	for k, want := range w.Fields {
		switch k {
		case "delay":
			wd, err := time.ParseDuration(want)
			if err != nil || wd != a.Delay {
				return false
			}
			continue
		case "at":
			if a.At.IsZero() || a.At.Format(time.RFC3339) != want {
				return false
			}
			continue
		}
		if got := formatSlot(m[k]); got != want {
			return false
		}
	}
	return true
}

func kinds(as []flows.Action) string {
	var parts []string
	for _, a := range as {
		s := string(a.Kind)
		switch a.Kind {
		case flows.ActionHandoff:
			s += fmt.Sprintf("{queue:%s}", a.Queue)
		case flows.ActionEnd:
			s += fmt.Sprintf("{flow:%s reason:%s}", a.Flow, a.Reason)
		case flows.ActionFollowup:
			s += fmt.Sprintf("{id:%s flow:%s delay:%s}", a.FollowupID, a.Flow, a.Delay)
		case flows.ActionTagAdd, flows.ActionTagRemove:
			s += fmt.Sprintf("%v", a.Tags)
		}
		parts = append(parts, s)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func fieldsText(f map[string]string) string {
	if len(f) == 0 {
		return ""
	}
	b, _ := json.Marshal(f)
	return string(b)
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func quote(list []string) string {
	parts := make([]string, len(list))
	for i, s := range list {
		parts[i] = fmt.Sprintf("%q", s)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// fakeDoer answers http steps from the case's canned responses.
type fakeDoer struct{ fakes []FakeHTTP }

func (d *fakeDoer) Do(_ context.Context, req flows.HTTPRequest) flows.HTTPResponse {
	for _, f := range d.fakes {
		method := f.Method
		if method == "" {
			method = "GET"
		}
		if !strings.EqualFold(method, req.Method) {
			continue
		}
		if !(f.URL == req.URL || (strings.HasSuffix(f.URL, "*") && strings.HasPrefix(req.URL, strings.TrimSuffix(f.URL, "*")))) {
			continue
		}
		if f.Error != "" {
			return flows.HTTPResponse{Token: req.Token, Err: f.Error}
		}
		status := f.Status
		if status == 0 {
			status = 200
		}
		body := []byte(f.Body)
		if f.JSON != nil {
			body, _ = json.Marshal(f.JSON)
		}
		return flows.HTTPResponse{Token: req.Token, Status: status, Body: body}
	}
	return flows.HTTPResponse{Token: req.Token, Err: fmt.Sprintf("no fake response for %s %s", req.Method, req.URL)}
}
