package apiclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// TokenSource supplies an account's access token. wxtoken.Store implements
// it with a Redis-shared token and a single refresher across processes.
type TokenSource interface {
	// Token returns a valid access token.
	Token(ctx context.Context) (string, error)
	// Invalidate reports that the platform refused token, so the next Token
	// call fetches a fresh one. It is a no-op when token is already replaced.
	Invalidate(ctx context.Context, token string) error
}

// Client calls one account's platform API.
type Client struct {
	platform Platform
	base     string
	http     *http.Client
	tokens   TokenSource
	maxResp  int64
}

// New returns a Client for platform with cfg. tokens may be nil for clients
// that only call token endpoints or session webhooks.
func New(platform Platform, cfg Config, tokens TokenSource) (*Client, error) {
	if platform.DefaultBase() == "" {
		return nil, fmt.Errorf("%w: unknown platform %d", ErrInvalidConfig, int(platform))
	}
	hc, err := NewHTTPClient(cfg)
	if err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	return &Client{platform: platform, base: platform.DefaultBase(), http: hc, tokens: tokens, maxResp: cfg.MaxResponseBytes}, nil
}

// Platform returns the client's platform.
func (c *Client) Platform() Platform { return c.platform }

// Request is one API call.
type Request struct {
	// API names the endpoint in errors; defaults to Path without its slash.
	API string
	// Method defaults to POST when Body is set and GET otherwise.
	Method string
	// Path is appended to the platform's host, e.g. "/cgi-bin/message/custom/send".
	Path string
	// URL, when set, is called instead of the platform host + Path (DingTalk
	// session webhooks). The account's api_base still applies.
	URL string
	// Query holds extra query parameters; the access token is added by Do.
	Query url.Values
	// Body is encoded as JSON.
	Body any
	// NoToken sends the call without an access token.
	NoToken bool
}

// Do performs req and decodes the JSON response into out (which may be nil).
// On a token error it invalidates the token and retries once with a fresh
// one (PROTOCOLS.md §1.6: PowerWeChat retries on exactly these codes).
func (c *Client) Do(ctx context.Context, req Request, out any) error {
	body, err := c.DoRaw(ctx, req)
	if err != nil {
		return err
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("calling %s %s: %w: %v", c.platform, req.api(), ErrMalformedResponse, err)
	}
	return nil
}

// DoRaw performs req like Do and returns the response body of a successful
// call, for callers that parse it themselves (wxmsg.ParseKFSync).
func (c *Client) DoRaw(ctx context.Context, req Request) ([]byte, error) {
	var payload []byte
	if req.Body != nil {
		var err error
		if payload, err = json.Marshal(req.Body); err != nil {
			return nil, fmt.Errorf("calling %s %s: %w: encoding body: %v", c.platform, req.api(), ErrBadRequest, err)
		}
	}
	token := ""
	if !req.NoToken {
		if c.tokens == nil {
			return nil, fmt.Errorf("calling %s %s: %w: no token source", c.platform, req.api(), ErrBadRequest)
		}
		var err error
		if token, err = c.tokens.Token(ctx); err != nil {
			return nil, fmt.Errorf("calling %s %s: getting access token: %w", c.platform, req.api(), err)
		}
	}
	body, err := c.attempt(ctx, req, payload, token)
	if err == nil || req.NoToken || !IsTokenInvalid(err) {
		return body, err
	}
	// The platform refused the token: drop it everywhere and retry once.
	if ierr := c.tokens.Invalidate(ctx, token); ierr != nil {
		return nil, errors.Join(err, fmt.Errorf("invalidating access token: %w", ierr))
	}
	fresh, terr := c.tokens.Token(ctx)
	if terr != nil {
		return nil, errors.Join(err, fmt.Errorf("refreshing access token: %w", terr))
	}
	return c.attempt(ctx, req, payload, fresh)
}

func (r Request) api() string {
	if r.API != "" {
		return r.API
	}
	if r.Path != "" {
		return strings.TrimPrefix(r.Path, "/")
	}
	return "webhook"
}

// attempt sends one HTTP request and checks the response for errors.
func (c *Client) attempt(ctx context.Context, req Request, payload []byte, token string) ([]byte, error) {
	target := req.URL
	if target == "" {
		target = c.base + req.Path
	}
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("calling %s %s: %w: invalid URL %s", c.platform, req.api(), ErrBadRequest, redactURL(target))
	}
	q := u.Query()
	for k, vs := range req.Query {
		q[k] = append(q[k], vs...)
	}
	if token != "" && c.platform != DingTalk {
		q.Set("access_token", token)
	}
	u.RawQuery = q.Encode()

	method := req.Method
	if method == "" {
		method = http.MethodGet
		if payload != nil {
			method = http.MethodPost
		}
	}
	var reqBody io.Reader
	if payload != nil {
		reqBody = bytes.NewReader(payload)
	}
	hr, err := http.NewRequestWithContext(ctx, method, u.String(), reqBody)
	if err != nil {
		return nil, fmt.Errorf("calling %s %s: %w: %v", c.platform, req.api(), ErrBadRequest, redactError(err))
	}
	if payload != nil {
		hr.Header.Set("Content-Type", "application/json; charset=utf-8")
	}
	hr.Header.Set("Accept", "application/json")
	if token != "" && c.platform == DingTalk {
		hr.Header.Set("x-acs-dingtalk-access-token", token)
	}

	resp, err := c.http.Do(hr)
	if err != nil {
		return nil, fmt.Errorf("calling %s %s: %w", c.platform, req.api(), redactError(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, c.maxResp+1))
	if err != nil {
		return nil, fmt.Errorf("calling %s %s: reading response: %w: %w", c.platform, req.api(), errTruncatedBody, redactError(err))
	}
	if int64(len(body)) > c.maxResp {
		return nil, fmt.Errorf("calling %s %s: %w: over %d bytes", c.platform, req.api(), ErrResponseTooLarge, c.maxResp)
	}
	if err := c.checkResponse(req, resp.StatusCode, body); err != nil {
		return nil, fmt.Errorf("calling %s %s: %w", c.platform, req.api(), err)
	}
	return body, nil
}

// errorEnvelope holds the error fields of every platform's responses.
type errorEnvelope struct {
	ErrCode *int   `json:"errcode"`
	ErrMsg  string `json:"errmsg"`
	Code    any    `json:"code"`    // DingTalk v1.0: string key
	Message string `json:"message"` // DingTalk v1.0
}

// checkResponse turns an HTTP error status or an error body into a
// *PlatformError.
func (c *Client) checkResponse(req Request, status int, body []byte) error {
	var env errorEnvelope
	jsonErr := json.Unmarshal(body, &env)
	pe := &PlatformError{Platform: c.platform, API: req.api()}
	if status < 200 || status > 299 {
		pe.HTTPStatus = status
	}
	if jsonErr == nil {
		if env.ErrCode != nil {
			pe.Code = *env.ErrCode
			pe.Msg = truncate(env.ErrMsg, 256)
		}
		// DingTalk v1.0 reports errors as a non-2xx status with a string
		// code; a "code" field in a successful body means nothing here.
		if key, ok := env.Code.(string); ok && key != "" && pe.HTTPStatus != 0 {
			pe.Key = truncate(key, 128)
			pe.Msg = truncate(env.Message, 256)
		}
	}
	if pe.HTTPStatus == 0 && pe.Code == 0 && pe.Key == "" {
		if jsonErr != nil {
			return fmt.Errorf("%w: %v", ErrMalformedResponse, jsonErr)
		}
		return nil
	}
	return pe
}
