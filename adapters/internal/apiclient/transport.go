package apiclient

import (
	"net/http"
	"net/url"
	"strings"
)

// NewHTTPClient returns an *http.Client for one account: cfg.Timeout per
// request and a transport that sends every request to cfg.APIBase.
func NewHTTPClient(cfg Config) (*http.Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	next := cfg.Transport
	if next == nil {
		next = http.DefaultTransport.(*http.Transport).Clone()
	}
	rt, err := NewBaseTransport(cfg.APIBase, next)
	if err != nil {
		return nil, err
	}
	return &http.Client{Timeout: cfg.Timeout, Transport: rt}, nil
}

// NewBaseTransport returns a RoundTripper that replaces each request's scheme
// and host with those of base, prefixing base's path if it has one, and then
// calls next. An empty base returns next unchanged. The caller's request is
// not modified.
func NewBaseTransport(base string, next http.RoundTripper) (http.RoundTripper, error) {
	if base == "" {
		return next, nil
	}
	if err := (Config{APIBase: base}).Validate(); err != nil {
		return nil, err
	}
	u, _ := url.Parse(base)
	return &baseTransport{scheme: u.Scheme, host: u.Host, prefix: strings.TrimRight(u.Path, "/"), next: next}, nil
}

type baseTransport struct {
	scheme, host, prefix string
	next                 http.RoundTripper
}

// RoundTrip implements http.RoundTripper.
func (t *baseTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	out := r.Clone(r.Context())
	out.URL.Scheme = t.scheme
	out.URL.Host = t.host
	out.Host = t.host
	if t.prefix != "" {
		out.URL.Path = t.prefix + out.URL.Path
		out.URL.RawPath = ""
	}
	return t.next.RoundTrip(out)
}

var _ http.RoundTripper = (*baseTransport)(nil)

// redactURL drops the query (access_token, secrets, session keys) and any
// user info from a URL kept in an error.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable url)"
	}
	u.RawQuery, u.ForceQuery, u.Fragment, u.User = "", false, "", nil
	return u.String()
}

// redactError removes the query from the URL of a transport error.
func redactError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return &url.Error{Op: ue.Op, URL: redactURL(ue.URL), Err: ue.Err}
	}
	return err
}
