package knowledge

import (
	"fmt"
	"strings"
)

// maxPassageRunes bounds one passage; a longer section is cut at paragraph
// breaks so that each passage stays a focused piece of grounding.
const maxPassageRunes = 600

// splitMarkdown cuts a document into passages at ATX headings ("#" to
// "######"), ignoring headings inside fenced code blocks. Each passage's
// title is its heading path; text before the first heading gets the file's
// name as title. Sections longer than maxPassageRunes are cut at blank lines.
func splitMarkdown(path string, data []byte) []*Passage {
	lines := strings.Split(strings.ReplaceAll(string(data), "\r\n", "\n"), "\n")
	var (
		out      []*Passage
		headings []string // headings[i] is the current level-(i+1) heading
		body     []string
		bodyLine int
		inFence  bool
	)
	title := func() string {
		var parts []string
		for _, h := range headings {
			if h != "" {
				parts = append(parts, h)
			}
		}
		if len(parts) == 0 {
			return strings.TrimSuffix(baseName(path), ".md")
		}
		return strings.Join(parts, " > ")
	}
	flush := func() {
		for _, chunk := range chunkParagraphs(body, bodyLine) {
			out = append(out, &Passage{
				ID:    fmt.Sprintf("%s#%d", baseName(path), len(out)+1),
				Title: title(),
				Text:  chunk.text,
				File:  path,
				Line:  chunk.line,
			})
		}
		body = body[:0]
	}
	for i, ln := range lines {
		trimmed := strings.TrimSpace(ln)
		if strings.HasPrefix(trimmed, "```") || strings.HasPrefix(trimmed, "~~~") {
			inFence = !inFence
		}
		if level, text, ok := atxHeading(ln); ok && !inFence {
			flush()
			for len(headings) < level {
				headings = append(headings, "")
			}
			headings = headings[:level]
			headings[level-1] = text
			continue
		}
		if len(body) == 0 {
			if trimmed == "" {
				continue
			}
			bodyLine = i + 1
		}
		body = append(body, ln)
	}
	flush()
	return out
}

// atxHeading parses "## Title" lines.
func atxHeading(line string) (int, string, bool) {
	if len(line) == 0 || line[0] != '#' {
		return 0, "", false
	}
	level := 0
	for level < len(line) && line[level] == '#' {
		level++
	}
	if level > 6 || (level < len(line) && line[level] != ' ' && line[level] != '\t') {
		return 0, "", false
	}
	text := strings.TrimSpace(strings.TrimRight(strings.TrimSpace(line[level:]), "#"))
	return level, text, true
}

type chunk struct {
	text string
	line int
}

// chunkParagraphs joins body lines into chunks of at most maxPassageRunes,
// breaking only at blank lines (a single paragraph longer than that stays
// whole).
func chunkParagraphs(body []string, firstLine int) []chunk {
	var (
		out     []chunk
		cur     []string
		curLine = firstLine
		runes   int
	)
	emit := func() {
		text := strings.TrimSpace(strings.Join(cur, "\n"))
		if text != "" {
			out = append(out, chunk{text: text, line: curLine})
		}
		cur, runes = nil, 0
	}
	for i, ln := range body {
		n := len([]rune(ln))
		// Cut before a paragraph's first line when adding it would overflow.
		if runes > 0 && runes+n > maxPassageRunes && strings.TrimSpace(ln) != "" && strings.TrimSpace(body[i-1]) == "" {
			emit()
			curLine = firstLine + i
		}
		if len(cur) == 0 && strings.TrimSpace(ln) == "" {
			curLine = firstLine + i + 1
			continue
		}
		cur = append(cur, ln)
		runes += n
	}
	emit()
	return out
}

func baseName(path string) string {
	if i := strings.LastIndexAny(path, `/\`); i >= 0 {
		return path[i+1:]
	}
	return path
}
