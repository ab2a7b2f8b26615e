package config

import (
	"errors"
	"fmt"
	"strings"
)

// FieldError is one problem with one configuration key. Path is the key's
// dotted path ("channels.web[0].id"); File and Line point at it when known.
type FieldError struct {
	File string
	Line int
	Path string
	Msg  string
}

func (e *FieldError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d", e.Line)
		}
		b.WriteString(": ")
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found in a configuration, in file order.
type Errors []*FieldError

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Errorf returns a FieldError for the key at path (relative to the component
// being validated). Validate methods use it so the loader can prefix the
// component's path and point at the line.
func Errorf(path, format string, args ...any) *FieldError {
	return &FieldError{Path: path, Msg: fmt.Sprintf(format, args...)}
}

// Join collects field errors; nil entries are skipped. It returns nil when
// there are none, so Validate methods can end with `return config.Join(errs...)`.
func Join(errs ...error) error {
	var out Errors
	for _, err := range errs {
		out = appendErr(out, err)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func appendErr(out Errors, err error) Errors {
	if err == nil {
		return out
	}
	var es Errors
	if errors.As(err, &es) {
		return append(out, es...)
	}
	var fe *FieldError
	if errors.As(err, &fe) {
		return append(out, fe)
	}
	// errors.Join of several: keep each as its own line.
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			out = appendErr(out, e)
		}
		return out
	}
	return append(out, &FieldError{Msg: err.Error()})
}

// Within prefixes the paths of every field error in err with prefix and
// returns them as Errors. Other errors become a FieldError at prefix.
func Within(prefix string, err error) error {
	if err == nil {
		return nil
	}
	es := appendErr(nil, err)
	for _, e := range es {
		if e.Path == "" {
			// A plain error that already names its block ("llm: ...")
			// is not prefixed twice.
			e.Msg = strings.TrimPrefix(e.Msg, prefix+": ")
		}
		e.Path = joinPath(prefix, e.Path)
	}
	return es
}

func joinPath(prefix, path string) string {
	switch {
	case prefix == "":
		return path
	case path == "":
		return prefix
	case strings.HasPrefix(path, "["):
		return prefix + path
	default:
		return prefix + "." + path
	}
}
