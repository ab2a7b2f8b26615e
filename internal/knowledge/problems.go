package knowledge

import (
	"fmt"
	"strings"
)

// Problem is one error found in a knowledge file.
type Problem struct {
	File string `json:"file"`
	Line int    `json:"line"`
	Msg  string `json:"msg"`
}

func (p Problem) String() string { return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Msg) }

// Problems is every error found while loading a knowledge base. Its Error
// text is one "file:line: message" per line, the format `kefu flows lint` uses.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}
