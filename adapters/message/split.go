package message

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// SplitText cuts s into parts of at most maxBytes bytes each, never inside a
// UTF-8 sequence, preferring to cut after a line break or a sentence end in
// the last quarter of a part. WeChat and WeCom truncate text over 2048 bytes
// (PROTOCOLS.md §1.4, §3.2), so the tail would otherwise be lost. A maxBytes of
// zero or less returns s unsplit. Parts are never empty.
func SplitText(s string, maxBytes int) []string {
	if maxBytes <= 0 || len(s) <= maxBytes {
		if s == "" {
			return nil
		}
		return []string{s}
	}
	if maxBytes < utf8.UTFMax {
		maxBytes = utf8.UTFMax
	}
	var parts []string
	for len(s) > maxBytes {
		cut := maxBytes
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		if cut == 0 {
			// Only stray continuation bytes (invalid UTF-8): cut through
			// them rather than loop forever.
			cut = maxBytes
		}
		if nice := niceCut(s[:cut]); nice > cut*3/4 {
			cut = nice
		}
		part := strings.TrimRight(s[:cut], " ")
		if part != "" {
			parts = append(parts, part)
		}
		s = strings.TrimLeft(s[cut:], " \n")
	}
	if s != "" {
		parts = append(parts, s)
	}
	return parts
}

// niceCut returns the byte offset just after the last line break or sentence
// end in s, or 0 when there is none.
func niceCut(s string) int {
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return i + 1
	}
	best := 0
	for _, end := range []string{"。", "！", "？", "；", ". ", "! ", "? "} {
		if i := strings.LastIndex(s, end); i >= 0 && i+len(end) > best {
			best = i + len(end)
		}
	}
	return best
}

// RenderChoices appends a numbered menu of choices to text for channels that
// have no buttons. The flow engine accepts the numbers as answers.
func RenderChoices(text string, choices []Choice) string {
	if len(choices) == 0 {
		return text
	}
	var b strings.Builder
	b.WriteString(text)
	for i, c := range choices {
		if b.Len() > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(strconv.Itoa(i + 1))
		b.WriteString(". ")
		b.WriteString(c.Title)
	}
	return b.String()
}
