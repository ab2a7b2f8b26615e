package flows

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Normalize folds a customer's text for matching: full-width ASCII becomes
// half-width (Chinese input methods often produce "ｈｉ" or "１"), letters are
// lower-cased, runs of white space collapse to one space, and white space and
// punctuation at both ends are dropped, so "你好！" and " Hi " match the
// keywords 你好 and hi. Keywords are normalized the same way when loaded.
func Normalize(s string) string {
	if isNormalASCII(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range s {
		switch {
		case r == '\u3000':
			r = ' '
		case r >= '！' && r <= '～':
			r -= '！' - '!'
		}
		if unicode.IsSpace(r) {
			space = b.Len() > 0
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return strings.TrimFunc(b.String(), trimmable)
}

func trimmable(r rune) bool { return unicode.IsSpace(r) || unicode.IsPunct(r) || unicode.IsSymbol(r) }

// isNormalASCII reports whether s is already normalized ASCII, the common fast
// path: lower case, single inner spaces, no leading or trailing punctuation.
func isNormalASCII(s string) bool {
	if s == "" {
		return true
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf || (c >= 'A' && c <= 'Z') || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f' {
			return false
		}
		if c == ' ' && (i == 0 || i == len(s)-1 || s[i+1] == ' ') {
			return false
		}
	}
	r0, _ := utf8.DecodeRuneInString(s)
	r1, _ := utf8.DecodeLastRuneInString(s)
	return !trimmable(r0) && !trimmable(r1)
}
