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
	if needsWidthFold(s) {
		s = width.Fold.String(s)
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsPunct(r) || unicode.IsSymbol(r) || unicode.IsControl(r) {
			continue
		}
		b.WriteRune(unicode.ToUpper(r))
	}
	return b.String()
}

// needsWidthFold reports whether s may hold a character width.Fold
// changes: only U+3000 (ideographic space) and U+FF01–U+FFEE (the fullwidth and
// halfwidth forms) are (TestNeedsWidthFoldMissesNothing checks every rune). Most
// messages hold none, and skip the fold's allocation and table look-ups.
func needsWidthFold(s string) bool {
	for i := 0; i+2 < len(s); i++ {
		switch s[i] {
		case 0xE3: // U+3000 is E3 80 80
			if s[i+1] == 0x80 && s[i+2] == 0x80 {
				return true
			}
		case 0xEF: // U+FF01–U+FFEE are EF BC 81 – EF BF AE
			if s[i+1] >= 0xBC && s[i+1] <= 0xBF {
				return true
			}
		}
	}
	return false
}
