package contacts

import (
	"strings"
	"unicode"

	"golang.org/x/text/width"
)

// OptAction is what an inbound message asks for about consent.
type OptAction string

// Opt actions.
const (
	OptNone OptAction = ""
	OptOut  OptAction = "out"
	OptIn   OptAction = "in"
)

// Classify reports whether text is an opt-out or opt-in keyword. Only a
// message that is exactly a keyword counts ("退订", "td", "ＳＴＯＰ！"), so
// "不要退订" or a sentence mentioning STOP is an ordinary message.
func (c OptOutConfig) Classify(text string) OptAction {
	// Keywords are a few characters; anything long is an ordinary message
	// and needs no normalizing (this runs on every inbound text).
	if len(text) > 96 {
		return OptNone
	}
	n := normalizeKeyword(text)
	if n == "" || len(n) > 64 {
		return OptNone
	}
	if c.normalized != nil {
		return c.normalized[n]
	}
	for _, k := range c.Keywords {
		if normalizeKeyword(k) == n {
			return OptOut
		}
	}
	for _, k := range c.OptInKeywords {
		if normalizeKeyword(k) == n {
			return OptIn
		}
	}
	return OptNone
}

// prepared returns c with its keywords normalized once, so Classify does
// not normalize them again for every message.
func (c OptOutConfig) prepared() OptOutConfig {
	m := map[string]OptAction{}
	for _, k := range c.OptInKeywords {
		if n := normalizeKeyword(k); n != "" {
			m[n] = OptIn
		}
	}
	for _, k := range c.Keywords {
		if n := normalizeKeyword(k); n != "" {
			m[n] = OptOut
		}
	}
	c.normalized = m
	return c
}

// normalizeKeyword folds width (ＴＤ → TD) and case and drops spaces,
// punctuation and symbols, so what customers type on phone keyboards
// matches the configured keyword.
func normalizeKeyword(s string) string {
	if len(s) > 256 {
		return ""
	}
	s = width.Fold.String(s)
	var b strings.Builder
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsPunct(r) || unicode.IsSymbol(r) || unicode.IsControl(r) {
			continue
		}
		b.WriteRune(unicode.ToUpper(r))
	}
	return b.String()
}
