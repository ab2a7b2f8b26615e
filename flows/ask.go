package flows

import (
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// ask says the question of the ask step at pc — after a digression with the
// resume sentence before it — and starts waiting for the answer.
func (t *turn) ask(fl *Flow, pc int, resume bool) {
	s := fl.ops[pc].s
	text := t.pickText(s.say)
	if resume {
		text = t.cfg.Texts.Resume + "\n" + text
	}
	t.say(text, t.renderChoices(s.choices))
	t.startWait(s.ask)
}

// answer handles the customer's reply to the waiting question.
func (t *turn) answer(raw, norm string) {
	fr := t.top()
	fl := t.set.Flow(fr.Flow)
	pc := fl.addr[fr.At]
	o := &fl.ops[pc]
	s := o.s
	// An exact keyword of an interruptible flow is a digression even when it
	// would be a valid answer ("营业时间" to "请描述问题").
	if d := t.digression(raw, norm, true); d != nil {
		t.clearWait()
		t.start(d, true)
		return
	}
	if v, ok := t.parseAnswer(s, raw, norm); ok {
		t.clearWait()
		fr.Waiting, fr.Attempts, fr.At = false, 0, ""
		t.setSlot(s.ask.slot, v)
		t.run(pc + 1)
		return
	}
	if d := t.digression(raw, norm, false); d != nil {
		t.clearWait()
		t.start(d, true)
		return
	}
	fr.Attempts++
	limit := s.ask.maxAttempts
	if limit == 0 {
		limit = t.cfg.MaxAttempts
	}
	if fr.Attempts >= limit {
		t.clearWait()
		fr.Waiting, fr.Attempts = false, 0
		if o.onExhausted >= 0 {
			fr.At = ""
			t.run(o.onExhausted)
			return
		}
		t.say(t.cfg.Texts.Exhausted, nil)
		t.endAll(EndExhausted)
		return
	}
	var text string
	switch {
	case len(s.ask.invalid) > 0:
		text = t.pickText(s.ask.invalid)
	case s.ask.typ == "choice":
		text = t.cfg.Texts.Choose
	default:
		text = t.cfg.Texts.Invalid + "\n" + t.pickText(s.say)
	}
	t.say(text, t.renderChoices(s.choices))
	t.clearWait()
	t.startWait(s.ask)
}

// digression finds an interruptible flow the input triggers while a question
// waits. strong looks at exact keywords only (they win over the answer);
// otherwise every trigger kind counts (the answer was invalid anyway).
func (t *turn) digression(raw, norm string, strong bool) *Flow {
	if len(t.st.Stack) >= t.cfg.MaxDepth {
		return nil
	}
	hits := t.set.index.matchText(norm, &raw)
	if !strong && t.in.Intent != "" {
		hits = append(hits, t.set.index.matchIntent(t.in.Intent)...)
		sortHits(hits)
	}
	for _, h := range hits {
		if !h.flow.Interruptible || (strong && h.rank != rankExact) || t.onStack(h.flow.ID) {
			continue
		}
		if t.guard(h.flow) {
			return h.flow
		}
	}
	return nil
}

func (t *turn) onStack(id string) bool {
	for _, fr := range t.st.Stack {
		if fr.Flow == id {
			return true
		}
	}
	return false
}

// parseAnswer checks and converts an answer by the question's type, then
// runs its validate expression.
func (t *turn) parseAnswer(s *step, raw, norm string) (any, bool) {
	a := s.ask
	var v any
	switch a.typ {
	case "number":
		f, ok := parseNumber(norm)
		if !ok || (a.min != nil && f < *a.min) || (a.max != nil && f > *a.max) {
			return nil, false
		}
		v = f
	case "phone":
		p, ok := parsePhone(norm)
		if !ok {
			return nil, false
		}
		v = p
	case "email":
		if !emailPattern.MatchString(norm) {
			return nil, false
		}
		v = norm
	case "date":
		d, ok := parseDate(norm, t.in.Now)
		if !ok {
			return nil, false
		}
		v = d
	case "choice":
		cs := t.renderChoices(s.choices)
		i := choiceIndex(norm, cs, !t.in.Buttons)
		if i < 0 {
			return nil, false
		}
		v = cs[i].Payload
	case "regex":
		txt := strings.TrimSpace(raw)
		if !a.pattern.MatchString(txt) {
			return nil, false
		}
		v = txt
	default: // text
		txt := strings.TrimSpace(raw)
		n := float64(utf8.RuneCountInString(txt))
		if txt == "" || (a.min != nil && n < *a.min) || (a.max != nil && n > *a.max) {
			return nil, false
		}
		v = txt
	}
	if a.validate != nil {
		env := t.envMap()
		env.Value = v
		ok, err := a.validate.truth(env)
		env.Value = nil
		if err != nil {
			t.warn("validate line %d: %v", a.validate.line, err)
		}
		if !ok {
			return nil, false
		}
	}
	return v, true
}

var emailPattern = regexp.MustCompile(`^[^@\s]+@[^@\s]+\.[^@\s.]+$`)

// parseNumber reads "12", "1,299.5" or "-3" (full-width digits were folded by
// Normalize). ParseFloat also reads "inf", "infinity" and "nan": none is an
// answer, and neither could be stored (JSON has no such numbers).
func parseNumber(s string) (float64, bool) {
	s = strings.ReplaceAll(strings.ReplaceAll(s, ",", ""), " ", "")
	if s == "" {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || !isFinite(f) {
		return 0, false
	}
	return f, true
}

var mobilePattern = regexp.MustCompile(`^1[3-9]\d{9}$`)

// parsePhone accepts a mainland China mobile number with optional +86 and
// spaces or dashes ("138 0013 8000", "+86-13800138000"); other numbers need
// type regex.
func parsePhone(s string) (string, bool) {
	s = strings.NewReplacer(" ", "", "-", "", "(", "", ")", "").Replace(s)
	s = strings.TrimPrefix(s, "+")
	if len(s) == 13 && strings.HasPrefix(s, "86") {
		s = s[2:]
	}
	return s, mobilePattern.MatchString(s)
}

var (
	fullDate  = regexp.MustCompile(`^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*[日号]?$`)
	shortDate = regexp.MustCompile(`^(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*[日号]?$`)
)

// parseDate reads 2024-05-01, 2024/5/1, 2024年5月1日, 5月1日 (this year),
// 今天, 明天, 后天, 昨天 and 前天, and returns it as 2006-01-02.
func parseDate(s string, now time.Time) (string, bool) {
	if now.IsZero() {
		now = time.Now()
	}
	rel := map[string]int{"今天": 0, "明天": 1, "后天": 2, "昨天": -1, "前天": -2, "today": 0, "tomorrow": 1, "yesterday": -1}
	if d, ok := rel[s]; ok {
		return now.AddDate(0, 0, d).Format("2006-01-02"), true
	}
	var y, m, d int
	if g := fullDate.FindStringSubmatch(s); g != nil {
		y, _ = strconv.Atoi(g[1])
		m, _ = strconv.Atoi(g[2])
		d, _ = strconv.Atoi(g[3])
	} else if g := shortDate.FindStringSubmatch(s); g != nil {
		y = now.Year()
		m, _ = strconv.Atoi(g[1])
		d, _ = strconv.Atoi(g[2])
	} else {
		return "", false
	}
	tm := time.Date(y, time.Month(m), d, 0, 0, 0, 0, now.Location())
	if tm.Year() != y || int(tm.Month()) != m || tm.Day() != d {
		return "", false // 2月30日
	}
	return tm.Format("2006-01-02"), true
}
