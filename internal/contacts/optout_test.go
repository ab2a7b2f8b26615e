package contacts

import (
	"testing"
	"unicode/utf8"

	"golang.org/x/text/width"
)

// needsWidthFold must be true for every character width.Fold changes, or a
// fullwidth ＴＤ would no longer opt out.
func TestNeedsWidthFoldMissesNothing(t *testing.T) {
	for r := rune(0); r <= utf8.MaxRune; r++ {
		if !utf8.ValidRune(r) {
			continue
		}
		s := string(r)
		if width.Fold.String(s) != s && !needsWidthFold(s) {
			t.Fatalf("U+%04X: width.Fold changes it, needsWidthFold says it need not", r)
		}
	}
}

func TestClassifyFoldsWidthInsideLongerText(t *testing.T) {
	c := Defaults().OptOut.prepared()
	for text, want := range map[string]OptAction{"ＴＤ": OptOut, "退订！": OptOut, " td ": OptOut, "你好": OptNone, "ｓｔｏｐ": OptOut} {
		if got := c.Classify(text); got != want {
			t.Errorf("Classify(%q) = %q, want %q", text, got, want)
		}
	}
}
