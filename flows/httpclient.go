package flows

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// HTTPClient is the real HTTPDoer: per-request timeout, retries with
// doubling back-off on transport errors, 429 and 5xx, and a cap on the
// response size.
type HTTPClient struct {
	Client  *http.Client
	MaxBody int64
	Backoff time.Duration
}

var _ HTTPDoer = (*HTTPClient)(nil)

// NewHTTPClient returns a client using cfg's body cap and back-off (defaults
// applied).
func NewHTTPClient(cfg Config) *HTTPClient {
	cfg = cfg.WithDefaults()
	return &HTTPClient{Client: &http.Client{}, MaxBody: cfg.HTTPMaxBody, Backoff: cfg.HTTPRetryBackoff}
}

// Do performs req, retrying up to req.Retries times.
func (c *HTTPClient) Do(ctx context.Context, req HTTPRequest) HTTPResponse {
	var resp HTTPResponse
	wait := c.Backoff
	for attempt := 0; ; attempt++ {
		resp = c.once(ctx, req)
		retryable := resp.Err != "" || resp.Status == http.StatusTooManyRequests || resp.Status >= 500
		if !retryable || attempt >= req.Retries || ctx.Err() != nil {
			return resp
		}
		select {
		case <-ctx.Done():
			return resp
		case <-time.After(wait):
		}
		wait *= 2
	}
}

func (c *HTTPClient) once(ctx context.Context, req HTTPRequest) HTTPResponse {
	out := HTTPResponse{Token: req.Token}
	u, err := url.Parse(req.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		out.Err = fmt.Sprintf("bad url %q", redactURL(req.URL))
		return out
	}
	if req.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, req.Timeout)
		defer cancel()
	}
	var body io.Reader
	if req.Body != "" {
		body = strings.NewReader(req.Body)
	}
	hreq, err := http.NewRequestWithContext(ctx, req.Method, req.URL, body)
	if err != nil {
		out.Err = fmt.Sprintf("building request: %v", err)
		return out
	}
	hreq.Header.Set("User-Agent", "kefu-flows")
	hreq.Header.Set("Accept", "application/json")
	for k, v := range req.Headers {
		hreq.Header.Set(k, v)
	}
	client := c.Client
	if client == nil {
		client = http.DefaultClient
	}
	hresp, err := client.Do(hreq)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			out.Err = fmt.Sprintf("timed out after %s", req.Timeout)
		} else {
			out.Err = fmt.Sprintf("calling %s: %v", redactURL(req.URL), unwrapURLError(err))
		}
		return out
	}
	defer hresp.Body.Close()
	max := c.MaxBody
	if max <= 0 {
		max = DefaultHTTPMaxBody
	}
	data, err := io.ReadAll(io.LimitReader(hresp.Body, max+1))
	if err != nil {
		out.Err = fmt.Sprintf("reading response: %v", err)
		return out
	}
	if int64(len(data)) > max {
		out.Err = fmt.Sprintf("response larger than %d bytes", max)
		return out
	}
	out.Status, out.Body = hresp.StatusCode, data
	return out
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// redactURL drops the query string and user info, which may carry secrets,
// for logs.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable url)"
	}
	u.User, u.RawQuery, u.Fragment = nil, "", ""
	return u.String()
}
