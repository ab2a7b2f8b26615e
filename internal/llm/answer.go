package llm

import (
	"context"
	"strings"
)

// Answer is a grounded answer.
type Answer struct {
	// Text is the answer to send (empty when NoAnswer).
	Text string
	// NoAnswer is set when the model said the passages do not cover the
	// question: the router offers a human (and records a knowledge gap).
	NoAnswer bool
	// Truncated is set when the model stopped at the token limit.
	Truncated bool
	// PartialSent is set by AnswerStream when the model declined only after
	// some text had already gone to onDelta (it is told not to): the router
	// should follow up with its fallback rather than leave a half answer.
	PartialSent bool
	Usage       Usage
}

// Answer answers req.Question from req.Passages in one request. Errors are
// *Error values (see the sentinels); on any error or NoAnswer the router
// falls back, and the fallback is counted in the metrics.
func (c *Client) Answer(ctx context.Context, req GroundedRequest) (Answer, error) {
	resp, err := c.Complete(ctx, Request{
		Messages:  BuildGroundedMessages(c.cfg.SystemPrompt, req, c.cfg.MaxHistoryTurns),
		MaxTokens: req.MaxTokens,
	})
	if err != nil {
		c.metrics.Fallback(kindName(err))
		return Answer{}, err
	}
	text, no := ParseAnswer(resp.Text)
	if no || text == "" {
		c.metrics.Fallback("no_answer")
		return Answer{NoAnswer: true, Usage: resp.Usage}, nil
	}
	return Answer{Text: text, Truncated: resp.FinishReason == "length", Usage: resp.Usage}, nil
}

// AnswerStream is Answer delivered token by token through onDelta. Text that
// could be the start of NoAnswerMarker is held back until it is known not to
// be, so a declined answer sends nothing; the marker itself never reaches
// onDelta.
func (c *Client) AnswerStream(ctx context.Context, req GroundedRequest, onDelta func(string) error) (Answer, error) {
	f := &markerFilter{emit: onDelta}
	resp, err := c.Stream(ctx, Request{
		Messages:  BuildGroundedMessages(c.cfg.SystemPrompt, req, c.cfg.MaxHistoryTurns),
		MaxTokens: req.MaxTokens,
	}, f.write)
	if err != nil {
		c.metrics.Fallback(kindName(err))
		return Answer{}, err
	}
	if f.found || strings.TrimSpace(resp.Text) == "" {
		c.metrics.Fallback("no_answer")
		return Answer{NoAnswer: true, PartialSent: f.started, Usage: resp.Usage}, nil
	}
	if err := f.flush(); err != nil {
		return Answer{}, err
	}
	return Answer{Text: strings.TrimSpace(resp.Text), Truncated: resp.FinishReason == "length", Usage: resp.Usage}, nil
}

// markerFilter passes streamed text on, holding back any tail that could be
// the beginning of NoAnswerMarker, and swallowing everything once the
// marker is seen. Leading whitespace is held back too, so an answer that is
// only the marker emits nothing at all.
type markerFilter struct {
	emit    func(string) error
	pending string
	started bool
	found   bool
}

func (f *markerFilter) write(s string) error {
	if f.found {
		return nil
	}
	f.pending += s
	if !f.started {
		f.pending = strings.TrimLeft(f.pending, " \t\r\n")
		if f.pending == "" {
			return nil
		}
	}
	if strings.Contains(f.pending, NoAnswerMarker) {
		f.found = true
		f.pending = ""
		return nil
	}
	// Keep the longest suffix that is a prefix of the marker.
	keep := 0
	for n := min(len(f.pending), len(NoAnswerMarker)-1); n > 0; n-- {
		if strings.HasSuffix(f.pending, NoAnswerMarker[:n]) {
			keep = n
			break
		}
	}
	out := f.pending[:len(f.pending)-keep]
	f.pending = f.pending[len(f.pending)-keep:]
	if out == "" {
		return nil
	}
	f.started = true
	return f.emit(out)
}

// flush emits what was held back once the stream ended without the marker.
func (f *markerFilter) flush() error {
	if f.found || f.pending == "" {
		return nil
	}
	out := strings.TrimRight(f.pending, " \t\r\n")
	f.pending = ""
	if out == "" {
		return nil
	}
	return f.emit(out)
}
