package flows

import (
	"fmt"
	"sort"
	"strings"
)

// Problem is one finding in a flow file: an error (the flows are not loaded)
// or a warning (they are, but something looks wrong).
type Problem struct {
	File    string
	Line    int
	Msg     string
	Warning bool
}

// String prints the problem as "file:line: message", with "warning: " before
// the message for warnings, the form editors and CI annotations understand.
func (p Problem) String() string {
	if p.Warning {
		return fmt.Sprintf("%s:%d: warning: %s", p.File, p.Line, p.Msg)
	}
	return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Msg)
}

// Problems is every problem found while loading flows. As an error it prints
// one problem per line.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Errors returns the problems that are not warnings.
func (ps Problems) Errors() Problems {
	var out Problems
	for _, p := range ps {
		if !p.Warning {
			out = append(out, p)
		}
	}
	return out
}

// Sort orders problems by file, then line, then message.
func (ps Problems) Sort() {
	sort.SliceStable(ps, func(i, j int) bool {
		a, b := ps[i], ps[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Msg < b.Msg
	})
}

// reporter collects problems for one file.
type reporter struct {
	file  string
	probs *Problems
}

func (r reporter) errorf(line int, format string, args ...any) {
	*r.probs = append(*r.probs, Problem{File: r.file, Line: line, Msg: fmt.Sprintf(format, args...)})
}

func (r reporter) warnf(line int, format string, args ...any) {
	*r.probs = append(*r.probs, Problem{File: r.file, Line: line, Msg: fmt.Sprintf(format, args...), Warning: true})
}
