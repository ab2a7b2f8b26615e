package llm

import (
	"errors"
	"fmt"
	"time"
)

// Sentinel kinds of LLM failure; test with errors.Is. Every error the client
// returns (except a canceled caller context) is an *Error carrying one.
var (
	// ErrDisabled: no base_url is configured.
	ErrDisabled = errors.New("llm not configured")
	// ErrTimeout: an attempt took longer than the configured timeout.
	ErrTimeout = errors.New("llm timed out")
	// ErrRateLimited: the server answered 429 and retries (honouring
	// Retry-After) ran out, or Retry-After exceeded max_retry_after or the
	// caller's deadline.
	ErrRateLimited = errors.New("llm rate limited")
	// ErrUnavailable: 5xx answers or connection failures outlasted the
	// retries.
	ErrUnavailable = errors.New("llm unavailable")
	// ErrRejected: the server refused the request (4xx other than 429:
	// bad key, unknown model, context too long). Retrying cannot help.
	ErrRejected = errors.New("llm rejected the request")
	// ErrMalformed: the server's answer could not be understood.
	ErrMalformed = errors.New("llm answer malformed")
	// ErrCircuitOpen: recent attempts failed; the circuit breaker lets no
	// request through until its cool-down ends.
	ErrCircuitOpen = errors.New("llm circuit open")
)

// Error is a failed LLM call.
type Error struct {
	// Kind is one of the sentinels above.
	Kind error
	// Op is "chat", "stream", "embed" or "classify".
	Op string
	// Status is the last HTTP status, 0 when there was none.
	Status int
	// RetryAfter is the server's last Retry-After, 0 when absent.
	RetryAfter time.Duration
	// Attempts is how many requests were sent.
	Attempts int
	// Err is the underlying error, if any.
	Err error
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("llm %s: %v", e.Op, e.Kind)
	if e.Status != 0 {
		msg += fmt.Sprintf(" (HTTP %d)", e.Status)
	}
	if e.Attempts > 1 {
		msg += fmt.Sprintf(" after %d attempts", e.Attempts)
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap exposes both the kind and the cause to errors.Is and errors.As.
func (e *Error) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Err}
}

// kindName names a kind for metrics labels.
func kindName(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, ErrTimeout):
		return "timeout"
	case errors.Is(err, ErrRateLimited):
		return "rate_limited"
	case errors.Is(err, ErrUnavailable):
		return "unavailable"
	case errors.Is(err, ErrRejected):
		return "rejected"
	case errors.Is(err, ErrMalformed):
		return "malformed"
	case errors.Is(err, ErrCircuitOpen):
		return "circuit_open"
	case errors.Is(err, ErrDisabled):
		return "disabled"
	default:
		return "canceled"
	}
}
