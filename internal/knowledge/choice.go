package knowledge

import (
	"strconv"
	"strings"
)

// chineseDigits maps the numerals customers type when picking a choice.
var chineseDigits = map[string]int{"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}

// choiceNumber reads a reply such as "2", "２", "第二个", "选3", "3号" as a
// 1-based choice number; 0 when the reply is not a number.
func choiceNumber(reply string) int {
	s := strings.Join(strings.Fields(Normalize(reply)), "")
	s = strings.TrimPrefix(s, "选")
	s = strings.TrimPrefix(s, "第")
	for _, suf := range []string{"个", "项", "条", "号", "种", "题"} {
		s = strings.TrimSuffix(s, suf)
	}
	if n, err := strconv.Atoi(s); err == nil && n > 0 {
		return n
	}
	return chineseDigits[s]
}

// declines are replies meaning "none of these".
var declines = map[string]bool{"都不是": true, "都不对": true, "不是": true, "没有": true, "都没有": true, "不对": true, "否": true, "no": true, "none": true}

// resolveChoice maps a reply to an open clarifying question onto the offered
// FAQ id. It accepts a choice payload (buttons), a number (with the "none of
// these" choice numbered last), the offered question's text, or a reply whose
// best match in the whole base is one offered FAQ, clearly ahead of the
// other offered ones.
// declined is true for "none of these".
func (p *Policy) resolveChoice(base *Base, pending *Pending, reply string) (id string, declined, ok bool) {
	if pending == nil || len(pending.FAQIDs) == 0 {
		return "", false, false
	}
	reply = strings.TrimSpace(reply)
	if reply == noneChoicePayload {
		return "", true, true
	}
	if rest, found := strings.CutPrefix(reply, choicePayloadPrefix); found {
		for _, fid := range pending.FAQIDs {
			if fid == rest {
				return fid, false, true
			}
		}
		return "", false, false
	}
	if n := choiceNumber(reply); n > 0 {
		switch {
		case n <= len(pending.FAQIDs):
			return pending.FAQIDs[n-1], false, true
		case n == len(pending.FAQIDs)+1:
			return "", true, true
		}
		return "", false, false
	}
	norm := strings.Join(strings.Fields(Normalize(reply)), "")
	if declines[norm] || norm == strings.Join(strings.Fields(Normalize(p.cfg.NoneText)), "") {
		return "", true, true
	}
	// A single-choice confirmation accepts a plain yes.
	if len(pending.FAQIDs) == 1 && affirmations[norm] {
		return pending.FAQIDs[0], false, true
	}
	// The text of one offered question.
	offered := map[string]bool{}
	for _, fid := range pending.FAQIDs {
		offered[fid] = true
		if f := base.FAQ(fid); f != nil && norm != "" && strings.Join(strings.Fields(Normalize(f.Question)), "") == norm {
			return fid, false, true
		}
	}
	// The reply's best FAQ over the whole base must be one of those offered:
	// a reply that is really a new question ("退货运费谁出" after being
	// offered refund and return) is then asked afresh instead of being
	// forced onto a choice.
	hits := base.lexicalHits(normalizedParts(reply), DefaultBeta, 0)
	if len(hits) > 0 && offered[hits[0].FAQ.ID] && hits[0].Score >= p.cfg.ClarifyThreshold {
		runnerUp := 0.0
		for _, h := range hits[1:] {
			if offered[h.FAQ.ID] {
				runnerUp = h.Score
				break
			}
		}
		if hits[0].Score-runnerUp >= p.cfg.Margin {
			return hits[0].FAQ.ID, false, true
		}
	}
	return "", false, false
}

// affirmations are replies meaning "yes" to "did you mean ...?".
var affirmations = map[string]bool{"是": true, "是的": true, "对": true, "对的": true, "嗯": true, "好": true, "好的": true, "没错": true, "对对": true, "yes": true, "y": true, "ok": true}
