package llm

import (
	"strings"
	"unicode/utf8"
)

// Ellipsis ends a text FitBytes had to shorten.
const Ellipsis = "…"

// FitBytes shortens s to at most maxBytes bytes for a channel that takes one
// message of limited size (a passive WeChat reply, a notification): it cuts
// on a UTF-8 boundary, preferably after the last sentence end or line break
// in the final third of the budget, and appends Ellipsis. Text that fits is
// returned unchanged; a budget too small for anything but the ellipsis
// returns a plain cut. For long answers that may go out as several
// messages, split instead (message.SplitText) so nothing is lost.
func FitBytes(s string, maxBytes int) string {
	if maxBytes <= 0 {
		return ""
	}
	if len(s) <= maxBytes {
		return s
	}
	budget := maxBytes - len(Ellipsis)
	if budget <= 0 {
		return truncateBytes(s, maxBytes)
	}
	cut := truncateBytes(s, budget)
	best := -1
	for _, end := range []string{"。", "！", "？", "；", "\n", ". ", "! ", "? "} {
		if i := strings.LastIndex(cut, end); i >= 0 && i+len(end) > best {
			best = i + len(end)
		}
	}
	if best >= len(cut)*2/3 {
		cut = cut[:best]
	}
	cut = strings.TrimRight(cut, " \n")
	if !utf8.ValidString(cut) {
		cut = strings.ToValidUTF8(cut, "")
	}
	return cut + Ellipsis
}
