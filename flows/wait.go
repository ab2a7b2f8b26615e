package flows

import (
	"fmt"
	"time"
)

// Waiting for an answer: each question has a timeout (its own, or the
// session timeout) and reminders before it. The engine keeps one timer per
// conversation — the next reminder or the timeout — and asks the router for
// it with timer_schedule; the router wakes it with an InputTimer carrying the
// token. A reply cancels the timer; a stale token is ignored.

// reminders returns the reminders of a question: its own, or the configured
// defaults that fall before its timeout.
func (t *turn) reminders(a *askSpec) []reminder {
	if a.reminders != nil {
		return a.reminders
	}
	timeout := t.timeout(a)
	var out []reminder
	for _, r := range t.cfg.Reminders {
		if r.After < timeout {
			out = append(out, reminder{after: r.After, text: r.Text})
		}
	}
	return out
}

func (t *turn) timeout(a *askSpec) time.Duration {
	if a.timeout > 0 {
		return a.timeout
	}
	return t.cfg.SessionTimeout
}

// startWait records when the question was asked and schedules its first
// timer.
func (t *turn) startWait(a *askSpec) {
	t.st.WaitSince = t.in.Now
	t.st.Deadline = t.in.Now.Add(t.timeout(a))
	t.st.Reminded = 0
	t.scheduleNext(a)
}

func (t *turn) scheduleNext(a *askSpec) {
	next := t.st.Deadline
	if rems := t.reminders(a); t.st.Reminded < len(rems) {
		if at := t.st.WaitSince.Add(rems[t.st.Reminded].after); at.Before(next) {
			next = at
		}
	}
	if t.st.Timer != "" {
		t.emit(Action{Kind: ActionTimerCancel, Token: t.st.Timer})
	}
	t.st.Seq++
	t.st.Timer = fmt.Sprintf("t%d", t.st.Seq)
	t.st.TimerAt = next
	t.emit(Action{Kind: ActionTimerSchedule, Token: t.st.Timer, At: next})
}

// clearWait cancels the pending timer and forgets the wait.
func (t *turn) clearWait() {
	if t.st.Timer != "" {
		t.emit(Action{Kind: ActionTimerCancel, Token: t.st.Timer})
	}
	t.st.Timer, t.st.TimerAt = "", time.Time{}
	t.st.WaitSince, t.st.Deadline, t.st.Reminded = time.Time{}, time.Time{}, 0
}

// onTimer sends the next reminder or, at the deadline, times the question
// out: its on_timeout path runs, or the flows end with a polite sentence.
func (t *turn) onTimer() {
	if t.in.Token == "" || t.in.Token != t.st.Timer {
		return // stale: the customer answered, or a newer timer replaced it
	}
	t.st.Timer, t.st.TimerAt = "", time.Time{}
	fr := t.top()
	if fr == nil || !fr.Waiting {
		return
	}
	pc, ok := t.frameOp(*fr, true)
	if !ok {
		t.endAll(EndChanged)
		return
	}
	fl := t.set.Flow(fr.Flow)
	o := &fl.ops[pc]
	a := o.s.ask
	rems := t.reminders(a)
	if t.st.Reminded < len(rems) && t.st.WaitSince.Add(rems[t.st.Reminded].after).Before(t.st.Deadline) {
		r := rems[t.st.Reminded]
		t.st.Reminded++
		var text string
		if len(r.say) > 0 {
			text = t.pickText(r.say)
		} else {
			prefix := r.text
			if prefix == "" {
				prefix = t.cfg.Texts.Reminder
			}
			text = prefix + "\n" + t.pickText(o.s.say)
		}
		t.say(text, t.renderChoices(o.s.choices))
		t.scheduleNext(a)
		return
	}
	fr.Waiting, fr.Attempts = false, 0
	t.clearWait()
	if o.onTimeout >= 0 {
		fr.At = ""
		t.run(o.onTimeout)
		return
	}
	t.say(t.cfg.Texts.Timeout, nil)
	t.endAll(EndTimeout)
}
