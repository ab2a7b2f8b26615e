package llm

import (
	"regexp"
	"strings"
)

var (
	mdFence      = regexp.MustCompile("^\\s*(```|~~~)")
	mdHeading    = regexp.MustCompile(`^\s{0,3}#{1,6}\s+`)
	mdQuote      = regexp.MustCompile(`^\s*>\s?`)
	mdRule       = regexp.MustCompile(`^\s*(?:(?:-\s*){3,}|(?:\*\s*){3,}|(?:_\s*){3,})$`)
	mdBullet     = regexp.MustCompile(`^(\s*)[*+]\s+`)
	mdImage      = regexp.MustCompile(`!\[([^\]]*)\]\([^)]*\)`)
	mdLink       = regexp.MustCompile(`\[([^\]]+)\]\(([^)\s]+)(?:\s+"[^"]*")?\)`)
	mdBold       = regexp.MustCompile(`(\*\*|__)(\S(?:.*?\S)?)(\*\*|__)`)
	mdItalicStar = regexp.MustCompile(`(^|[^*\w])\*(\S(?:[^*]*?\S)?)\*`)
	mdItalicUnd  = regexp.MustCompile(`(^|[^_\w])_(\S(?:[^_]*?\S)?)_`)
	mdStrike     = regexp.MustCompile(`~~(\S(?:.*?\S)?)~~`)
	mdCode       = regexp.MustCompile("`([^`]+)`")
)

// StripMarkdown turns markdown into plain text for channels that show raw
// text (WeChat, WeCom, DingTalk text messages): headings, emphasis, code
// marks, quotes and rules lose their markup, "* item" bullets become
// "- item", links become "text (url)", images their alt text. Code block
// contents are kept as they are.
func StripMarkdown(s string) string {
	lines := strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n")
	out := make([]string, 0, len(lines))
	inFence := false
	for _, ln := range lines {
		if mdFence.MatchString(ln) {
			inFence = !inFence
			continue
		}
		if inFence {
			out = append(out, ln)
			continue
		}
		if mdRule.MatchString(ln) {
			continue
		}
		ln = mdHeading.ReplaceAllString(ln, "")
		ln = mdQuote.ReplaceAllString(ln, "")
		ln = mdBullet.ReplaceAllString(ln, "$1- ")
		ln = mdImage.ReplaceAllString(ln, "$1")
		ln = mdLink.ReplaceAllStringFunc(ln, func(m string) string {
			sub := mdLink.FindStringSubmatch(m)
			if sub[1] == sub[2] {
				return sub[2]
			}
			return sub[1] + " (" + sub[2] + ")"
		})
		ln = mdCode.ReplaceAllString(ln, "$1")
		ln = mdBold.ReplaceAllString(ln, "$2")
		ln = mdStrike.ReplaceAllString(ln, "$1")
		ln = mdItalicStar.ReplaceAllString(ln, "$1$2")
		ln = mdItalicUnd.ReplaceAllString(ln, "$1$2")
		out = append(out, ln)
	}
	return strings.TrimSpace(strings.Join(out, "\n"))
}
