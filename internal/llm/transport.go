package llm

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/kefu-gateway/kefu/internal/clock"
)

// attemptInfo carries what the HTTP layer saw of one attempt back to the
// retry loop: go-openai's errors keep the status but drop the headers, and
// Retry-After lives in a header.
type attemptInfo struct {
	mu         sync.Mutex
	status     int
	retryAfter string
}

type attemptKey struct{}

func withAttemptInfo(ctx context.Context, info *attemptInfo) context.Context {
	return context.WithValue(ctx, attemptKey{}, info)
}

// recordingDoer is the HTTP client handed to go-openai: it records each
// response's status and Retry-After header in the request's attemptInfo.
type recordingDoer struct{ client *http.Client }

func (d recordingDoer) Do(req *http.Request) (*http.Response, error) {
	resp, err := d.client.Do(req)
	if resp != nil {
		if info, ok := req.Context().Value(attemptKey{}).(*attemptInfo); ok {
			info.mu.Lock()
			info.status = resp.StatusCode
			info.retryAfter = resp.Header.Get("Retry-After")
			info.mu.Unlock()
		}
	}
	return resp, err
}

// parseRetryAfter reads a Retry-After value: delay-seconds or an HTTP date
// (RFC 9110 §10.2.3). It returns 0 when absent or unreadable. Seconds too
// many for a time.Duration (about 292 years) saturate instead of wrapping to
// a negative wait, so the caller still sees a wait longer than it accepts.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil || errors.Is(err, strconv.ErrRange) {
		return clock.Seconds(secs)
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}
