package flows

import (
	"context"
	"fmt"

	"go.uber.org/zap"
)

// HTTPDoer performs the HTTP calls of http steps. HTTPClient is the real one;
// tests and `kefu flows test` use fakes.
type HTTPDoer interface {
	// Do performs req and reports the outcome; transport failures go into
	// HTTPResponse.Err, never a panic. It must honour ctx.
	Do(ctx context.Context, req HTTPRequest) HTTPResponse
}

// Runner wraps an Engine with the I/O the pure engine leaves out: when a step
// awaits an HTTP call, Runner performs it and feeds the response back, until
// the turn is done. The router calls Run once per input.
type Runner struct {
	Engine *Engine
	HTTP   HTTPDoer
	Log    *zap.Logger
}

// NewRunner returns a runner for engine using doer for http steps. A nil
// logger logs nothing.
func NewRunner(engine *Engine, doer HTTPDoer, log *zap.Logger) *Runner {
	if log == nil {
		log = zap.NewNop()
	}
	return &Runner{Engine: engine, HTTP: doer, Log: log}
}

// Run steps the engine with in and then performs HTTP calls the flows ask
// for, at most Config.MaxHTTPPerTurn per turn, feeding each response back
// (with in's time, contact and channel). The returned Result holds the final
// state and every action of the turn in order; its AwaitHTTP is always nil.
func (r *Runner) Run(ctx context.Context, st State, in Input) Result {
	res := r.Engine.Step(st, in)
	actions, warnings, handled := res.Actions, res.Warnings, res.Handled
	limit := r.Engine.cfg.MaxHTTPPerTurn
	for calls := 0; res.AwaitHTTP != nil; calls++ {
		req := *res.AwaitHTTP
		var resp HTTPResponse
		switch {
		case calls >= limit:
			resp = HTTPResponse{Err: fmt.Sprintf("more than %d http steps in one turn", limit)}
		case ctx.Err() != nil:
			resp = HTTPResponse{Err: ctx.Err().Error()}
		case r.HTTP == nil:
			resp = HTTPResponse{Err: "no HTTP client configured"}
		default:
			resp = r.HTTP.Do(ctx, req)
		}
		resp.Token = req.Token
		if resp.Err != "" || resp.Status >= 400 {
			r.Log.Warn("flow http step failed", zap.String("flow", res.State.Flow), zap.String("method", req.Method),
				zap.String("url", redactURL(req.URL)), zap.Int("status", resp.Status), zap.String("error", resp.Err))
		}
		next := in
		next.Kind, next.HTTP, next.Text, next.Token = InputHTTP, &resp, "", ""
		res = r.Engine.Step(res.State, next)
		actions = append(actions, res.Actions...)
		warnings = append(warnings, res.Warnings...)
	}
	res.Actions, res.Warnings, res.Handled = actions, warnings, handled
	return res
}

// RunPure is Run for a turn that must not do I/O: when the engine's answer
// needs no HTTP step it returns the same Result as Run would and true;
// when it needs one it returns false, and the caller runs the turn again
// with Run (the engine is pure: stepping it twice changes nothing).
func (r *Runner) RunPure(st State, in Input) (Result, bool) {
	res := r.Engine.Step(st, in)
	if res.AwaitHTTP != nil {
		return Result{}, false
	}
	return res, true
}
