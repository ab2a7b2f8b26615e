package llm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	openai "github.com/sashabaranov/go-openai"
	"go.uber.org/zap"

	"github.com/kefu-gateway/kefu/internal/clock"
)

// Roles of chat messages.
const (
	RoleSystem    = "system"
	RoleUser      = "user"
	RoleAssistant = "assistant"
)

// ChatMessage is one message of a chat completion request.
type ChatMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// Request is one chat completion.
type Request struct {
	Messages []ChatMessage
	// MaxTokens and Temperature override the configured values when set.
	MaxTokens   int
	Temperature *float32
}

// Usage is the server's token count for one completion.
type Usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
}

// Response is a finished completion.
type Response struct {
	Text         string
	FinishReason string
	Model        string
	Usage        Usage
}

// Options are the Client's optional collaborators.
type Options struct {
	// HTTPClient sends the requests (default: a plain http.Client; every
	// timeout comes from contexts).
	HTTPClient *http.Client
	// Clock drives the circuit breaker and Retry-After dates.
	Clock clock.Clock
	// Sleep waits between retries (default: a timer that honours ctx);
	// tests inject one that records the delays.
	Sleep   func(ctx context.Context, d time.Duration) error
	Metrics Metrics
	Logger  *zap.Logger
}

// Client talks to one OpenAI-compatible server. It is safe for concurrent
// use. A Client built from a Config without base_url answers every call with
// ErrDisabled.
type Client struct {
	cfg     Config
	api     *openai.Client
	breaker *Breaker
	clock   clock.Clock
	sleep   func(context.Context, time.Duration) error
	metrics Metrics
	log     *zap.Logger
}

// New validates cfg and returns a client.
func New(cfg Config, opts Options) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.WithDefaults()
	c := &Client{cfg: cfg, clock: opts.Clock, sleep: opts.Sleep, metrics: opts.Metrics, log: opts.Logger}
	if c.clock == nil {
		c.clock = clock.Real{}
	}
	if c.sleep == nil {
		c.sleep = sleepCtx
	}
	if c.metrics == nil {
		c.metrics = NopMetrics{}
	}
	if c.log == nil {
		c.log = zap.NewNop()
	}
	c.breaker = NewBreaker(cfg.BreakerFailures, cfg.BreakerCooldown, c.clock, c.metrics.BreakerState)
	if cfg.Enabled() {
		hc := opts.HTTPClient
		if hc == nil {
			hc = &http.Client{}
		}
		oc := openai.DefaultConfig(cfg.APIKey)
		oc.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
		oc.HTTPClient = recordingDoer{client: hc}
		c.api = openai.NewClientWithConfig(oc)
	}
	return c, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Enabled reports whether a server is configured.
func (c *Client) Enabled() bool { return c.api != nil }

// Config returns the client's configuration with defaults filled in.
func (c *Client) Config() Config { return c.cfg }

// Breaker returns the client's circuit breaker (for health reporting).
func (c *Client) Breaker() *Breaker { return c.breaker }

// errMalformed marks an answer that decoded but makes no sense.
var errMalformed = errors.New("malformed answer")

// errAborted marks a stream the caller's callback stopped.
type errAborted struct{ err error }

func (e errAborted) Error() string { return "stream aborted by caller: " + e.err.Error() }
func (e errAborted) Unwrap() error { return e.err }

// call runs attempt with retries, backoff, Retry-After and the breaker.
// retryable (may be nil) vetoes a retry, for streams that already delivered
// text.
func (c *Client) call(ctx context.Context, op string, attempt func(ctx context.Context) error, retryable func() bool) error {
	if c.api == nil {
		return &Error{Kind: ErrDisabled, Op: op}
	}
	var last *Error
	for n := 1; ; n++ {
		if !c.breaker.Allow() {
			e := &Error{Kind: ErrCircuitOpen, Op: op, Attempts: n - 1}
			if last != nil {
				e.Status, e.Err = last.Status, last
			}
			return e
		}
		info := &attemptInfo{}
		actx, cancel := context.WithTimeout(withAttemptInfo(ctx, info), c.cfg.Timeout)
		err := attempt(actx)
		cancel()
		if err == nil {
			c.breaker.Success()
			return nil
		}
		var aborted errAborted
		if ctx.Err() != nil || errors.As(err, &aborted) {
			c.breaker.Release()
			if aborted.err != nil {
				return aborted.err
			}
			return fmt.Errorf("llm %s: %w", op, ctx.Err())
		}
		info.mu.Lock()
		status, ra := info.status, parseRetryAfter(info.retryAfter, c.clock.Now())
		info.mu.Unlock()
		last = c.classify(op, err, status)
		last.RetryAfter, last.Attempts = ra, n
		if errors.Is(last, ErrRejected) {
			c.breaker.Release() // the server is up; the request is wrong
		} else {
			c.breaker.Failure()
		}
		if !errors.Is(last, ErrRateLimited) && !errors.Is(last, ErrUnavailable) {
			return last
		}
		if n > c.cfg.Retries || (retryable != nil && !retryable()) {
			return last
		}
		wait := c.cfg.RetryBackoff << (n - 1)
		if ra > 0 {
			if ra > c.cfg.MaxRetryAfter {
				return last
			}
			wait = ra
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait { // context deadlines are wall-clock
			return last
		}
		c.log.Debug("retrying llm call", zap.String("op", op), zap.Int("attempt", n), zap.Duration("wait", wait), zap.Int("status", last.Status))
		if err := c.sleep(ctx, wait); err != nil {
			return fmt.Errorf("llm %s: %w", op, err)
		}
	}
}

// classify maps an attempt's error to a kind.
func (c *Client) classify(op string, err error, status int) *Error {
	e := &Error{Op: op, Err: err, Status: status}
	var apiErr *openai.APIError
	var reqErr *openai.RequestError
	switch {
	case errors.As(err, &apiErr) && apiErr.HTTPStatusCode != 0:
		e.Status = apiErr.HTTPStatusCode
	case errors.As(err, &reqErr) && reqErr.HTTPStatusCode != 0:
		e.Status = reqErr.HTTPStatusCode
	}
	var syntaxErr *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		e.Kind = ErrTimeout
	case e.Status == http.StatusTooManyRequests:
		e.Kind = ErrRateLimited
	case e.Status >= 500, e.Status == http.StatusRequestTimeout:
		e.Kind = ErrUnavailable
	case e.Status >= 400:
		e.Kind = ErrRejected
	case errors.Is(err, errMalformed), errors.As(err, &syntaxErr), errors.As(err, &typeErr),
		errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, openai.ErrTooManyEmptyStreamMessages):
		e.Kind = ErrMalformed
	default:
		e.Kind = ErrUnavailable // connection refused, reset, DNS ...
	}
	return e
}

func (c *Client) chatRequest(req Request, stream bool) openai.ChatCompletionRequest {
	out := openai.ChatCompletionRequest{
		Model:       c.cfg.Model,
		MaxTokens:   c.cfg.MaxTokens,
		Temperature: *c.cfg.Temperature,
		Stream:      stream,
	}
	if req.MaxTokens > 0 {
		out.MaxTokens = req.MaxTokens
	}
	if req.Temperature != nil {
		out.Temperature = *req.Temperature
	}
	if stream && *c.cfg.StreamUsage {
		out.StreamOptions = &openai.StreamOptions{IncludeUsage: true}
	}
	for _, m := range req.Messages {
		out.Messages = append(out.Messages, openai.ChatCompletionMessage{Role: m.Role, Content: m.Content})
	}
	return out
}

// Complete sends one chat completion and returns the whole answer.
func (c *Client) Complete(ctx context.Context, req Request) (Response, error) {
	start := time.Now()
	var out Response
	err := c.call(ctx, "chat", func(ctx context.Context) error {
		resp, err := c.api.CreateChatCompletion(ctx, c.chatRequest(req, false))
		if err != nil {
			return err
		}
		if len(resp.Choices) == 0 {
			return fmt.Errorf("%w: no choices", errMalformed)
		}
		out = Response{
			Text:         resp.Choices[0].Message.Content,
			FinishReason: string(resp.Choices[0].FinishReason),
			Model:        resp.Model,
			Usage:        Usage{PromptTokens: resp.Usage.PromptTokens, CompletionTokens: resp.Usage.CompletionTokens},
		}
		return nil
	}, nil)
	c.observe("chat", err, start, out.Usage)
	return out, err
}

// Stream sends one chat completion as a server-sent-event stream and calls
// onDelta with each piece of text as it arrives. An error from onDelta
// stops the stream and is returned as is. A failed attempt is retried only
// while no text has been delivered.
func (c *Client) Stream(ctx context.Context, req Request, onDelta func(string) error) (Response, error) {
	start := time.Now()
	var out Response
	delivered := false
	err := c.call(ctx, "stream", func(ctx context.Context) error {
		stream, err := c.api.CreateChatCompletionStream(ctx, c.chatRequest(req, true))
		if err != nil {
			return err
		}
		defer stream.Close()
		var b strings.Builder
		chunks := 0
		for {
			chunk, err := stream.Recv()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return err
			}
			chunks++
			if chunk.Usage != nil {
				out.Usage = Usage{PromptTokens: chunk.Usage.PromptTokens, CompletionTokens: chunk.Usage.CompletionTokens}
			}
			if chunk.Model != "" {
				out.Model = chunk.Model
			}
			if len(chunk.Choices) == 0 {
				continue
			}
			ch := chunk.Choices[0]
			if ch.FinishReason != "" {
				out.FinishReason = string(ch.FinishReason)
			}
			if ch.Delta.Content == "" {
				continue
			}
			b.WriteString(ch.Delta.Content)
			delivered = true
			if err := onDelta(ch.Delta.Content); err != nil {
				return errAborted{err}
			}
		}
		if chunks == 0 {
			return fmt.Errorf("%w: empty stream", errMalformed)
		}
		out.Text = b.String()
		return nil
	}, func() bool { return !delivered })
	c.observe("stream", err, start, out.Usage)
	return out, err
}

// EmbeddingModel returns the configured embeddings model ("" when none).
func (c *Client) EmbeddingModel() string { return c.cfg.EmbeddingModel }

// Embed returns one vector per text from the embeddings endpoint.
func (c *Client) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	if c.cfg.EmbeddingModel == "" {
		return nil, &Error{Kind: ErrDisabled, Op: "embed", Err: errors.New("no embedding_model configured")}
	}
	start := time.Now()
	out := make([][]float32, len(texts))
	var usage Usage
	err := c.call(ctx, "embed", func(ctx context.Context) error {
		resp, err := c.api.CreateEmbeddings(ctx, openai.EmbeddingRequestStrings{Input: texts, Model: openai.EmbeddingModel(c.cfg.EmbeddingModel)})
		if err != nil {
			return err
		}
		if len(resp.Data) != len(texts) {
			return fmt.Errorf("%w: %d embeddings for %d texts", errMalformed, len(resp.Data), len(texts))
		}
		for _, d := range resp.Data {
			idx := d.Index
			if idx < 0 || idx >= len(texts) || len(d.Embedding) == 0 {
				return fmt.Errorf("%w: embedding index %d", errMalformed, idx)
			}
			out[idx] = d.Embedding
		}
		for i, v := range out {
			if v == nil {
				return fmt.Errorf("%w: no embedding for text %d", errMalformed, i)
			}
		}
		usage.PromptTokens = resp.Usage.PromptTokens
		return nil
	}, nil)
	c.observe("embed", err, start, usage)
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (c *Client) observe(op string, err error, start time.Time, u Usage) {
	c.metrics.ObserveRequest(op, kindName(err), time.Since(start))
	if u.PromptTokens > 0 || u.CompletionTokens > 0 {
		c.metrics.AddTokens(op, u.PromptTokens, u.CompletionTokens)
	}
}
