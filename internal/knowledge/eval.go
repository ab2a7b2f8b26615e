package knowledge

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

	"gopkg.in/yaml.v3"
)

// EvalCase is one labelled question of an evaluation set.
type EvalCase struct {
	Text string `yaml:"text"`
	// Expect is the id of the FAQ the question means; empty for a question
	// the knowledge base does not cover (it must not be answered).
	Expect string `yaml:"expect"`
	// Split is "tune" (used to calibrate thresholds) or "heldout" (set
	// aside, reported separately to show how the calibration generalizes).
	Split string `yaml:"split"`
}

// Eval splits.
const (
	SplitTune    = "tune"
	SplitHeldout = "heldout"
)

// EvalSet is a file of labelled questions.
type EvalSet struct {
	Cases []EvalCase `yaml:"cases"`
}

// LoadEvalSet reads an evaluation set file and checks that every expected
// FAQ exists in base (when base is not nil).
func LoadEvalSet(path string, base *Base) (*EvalSet, error) {
	data, err := readLimited(path)
	if err != nil {
		return nil, fmt.Errorf("reading eval set: %w", err)
	}
	var set EvalSet
	if err := yaml.Unmarshal(data, &set); err != nil {
		return nil, fmt.Errorf("parsing eval set %s: %w", path, err)
	}
	var errs []error
	for i, c := range set.Cases {
		if c.Text == "" {
			errs = append(errs, fmt.Errorf("%s: case %d has no text", path, i+1))
		}
		if c.Split != "" && c.Split != SplitTune && c.Split != SplitHeldout {
			errs = append(errs, fmt.Errorf("%s: case %d: split must be %q or %q", path, i+1, SplitTune, SplitHeldout))
		}
		if base != nil && c.Expect != "" && base.FAQ(c.Expect) == nil {
			errs = append(errs, fmt.Errorf("%s: case %d expects unknown faq %q", path, i+1, c.Expect))
		}
	}
	if len(set.Cases) == 0 {
		errs = append(errs, fmt.Errorf("%s: no cases", path))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &set, nil
}

// Tally counts evaluation outcomes.
type Tally struct {
	InScope int `json:"in_scope"`
	// Correct: answered with the expected FAQ.
	Correct int `json:"correct"`
	// Clarified: a clarifying question whose choices include the expected
	// FAQ, so the customer gets the right answer with one tap.
	Clarified int `json:"clarified"`
	// Wrong: answered with another FAQ — the 答非所问 this package exists
	// to prevent.
	Wrong int `json:"wrong"`
	// Missed: unknown, or a clarifying question without the expected FAQ.
	Missed int `json:"missed"`

	OutOfScope int `json:"out_of_scope"`
	// FalseAnswers: an out-of-scope question answered with some FAQ.
	FalseAnswers int `json:"false_answers"`
	// OutOfScopeClarified: an out-of-scope question met with a clarifying
	// question (harmless — "none of these" is offered — but noted).
	OutOfScopeClarified int `json:"out_of_scope_clarified"`
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// Accuracy is the share of in-scope questions that reach the right answer:
// directly, or through a clarifying question offering it.
func (t Tally) Accuracy() float64 { return ratio(t.Correct+t.Clarified, t.InScope) }

// DirectAccuracy is the share of in-scope questions answered right away.
func (t Tally) DirectAccuracy() float64 { return ratio(t.Correct, t.InScope) }

// WrongRate is the share of in-scope questions answered with the wrong FAQ.
func (t Tally) WrongRate() float64 { return ratio(t.Wrong, t.InScope) }

// FalseAnswerRate is the share of out-of-scope questions answered anyway.
func (t Tally) FalseAnswerRate() float64 { return ratio(t.FalseAnswers, t.OutOfScope) }

// EvalResult is the outcome of one case.
type EvalResult struct {
	Case     EvalCase
	Decision Decision
	// Verdict is one of "correct", "clarified", "wrong", "missed" (in
	// scope) or "rejected", "clarified", "false-answer" (out of scope).
	Verdict string
}

// EvalReport is the outcome of an evaluation.
type EvalReport struct {
	All, Tune, Heldout Tally
	Results            []EvalResult
}

// Asker answers customer texts; *Service implements it.
type Asker interface {
	Ask(ctx context.Context, text string) Decision
}

// Evaluate runs every case through asker and tallies the outcomes.
func Evaluate(ctx context.Context, asker Asker, set *EvalSet) EvalReport {
	var r EvalReport
	for _, c := range set.Cases {
		d := asker.Ask(ctx, c.Text)
		res := EvalResult{Case: c, Decision: d}
		var t Tally
		if c.Expect != "" {
			t.InScope = 1
			switch {
			case d.Outcome == OutcomeAnswer && d.FAQ.ID == c.Expect:
				t.Correct, res.Verdict = 1, "correct"
			case d.Outcome == OutcomeAnswer:
				t.Wrong, res.Verdict = 1, "wrong"
			case d.Outcome == OutcomeClarify && d.Pending != nil && slices.Contains(d.Pending.FAQIDs, c.Expect):
				t.Clarified, res.Verdict = 1, "clarified"
			default:
				t.Missed, res.Verdict = 1, "missed"
			}
		} else {
			t.OutOfScope = 1
			switch d.Outcome {
			case OutcomeAnswer:
				t.FalseAnswers, res.Verdict = 1, "false-answer"
			case OutcomeClarify:
				t.OutOfScopeClarified, res.Verdict = 1, "clarified"
			default:
				res.Verdict = "rejected"
			}
		}
		r.All.add(t)
		if c.Split == SplitHeldout {
			r.Heldout.add(t)
		} else {
			r.Tune.add(t)
		}
		r.Results = append(r.Results, res)
	}
	return r
}

func (t *Tally) add(o Tally) {
	t.InScope += o.InScope
	t.Correct += o.Correct
	t.Clarified += o.Clarified
	t.Wrong += o.Wrong
	t.Missed += o.Missed
	t.OutOfScope += o.OutOfScope
	t.FalseAnswers += o.FalseAnswers
	t.OutOfScopeClarified += o.OutOfScopeClarified
}

// Write prints the report: one line per split with the rates, then (when
// verbose) every case that was not answered correctly or rejected.
func (r EvalReport) Write(w io.Writer, verbose bool) {
	fmt.Fprintf(w, "%-8s %6s %8s %8s %7s %7s | %6s %7s %7s\n",
		"split", "cases", "accuracy", "direct", "wrong", "missed", "oos", "false", "clarif")
	for _, row := range []struct {
		name string
		t    Tally
	}{{"all", r.All}, {"tune", r.Tune}, {"heldout", r.Heldout}} {
		t := row.t
		fmt.Fprintf(w, "%-8s %6d %8.3f %8.3f %7.3f %7.3f | %6d %7.3f %7.3f\n",
			row.name, t.InScope, t.Accuracy(), t.DirectAccuracy(), t.WrongRate(), ratio(t.Missed, t.InScope),
			t.OutOfScope, t.FalseAnswerRate(), ratio(t.OutOfScopeClarified, t.OutOfScope))
	}
	if !verbose {
		return
	}
	for _, res := range r.Results {
		if res.Verdict == "correct" || res.Verdict == "rejected" {
			continue
		}
		got := string(res.Decision.Outcome)
		switch res.Decision.Outcome {
		case OutcomeAnswer:
			got += " " + res.Decision.FAQ.ID
		case OutcomeClarify:
			got += fmt.Sprintf(" %v", res.Decision.Pending.FAQIDs)
		}
		expect := res.Case.Expect
		if expect == "" {
			expect = "(out of scope)"
		}
		fmt.Fprintf(w, "%-12s %-7s %.2f %s → %s, want %s\n", res.Verdict, res.Case.Split, res.Decision.Confidence(), res.Case.Text, got, expect)
	}
}

// EvalFile loads the knowledge base in dir (embedding it when opts has an
// Embedder) and the eval set at path, and runs the evaluation with cfg.
func EvalFile(ctx context.Context, dir, path string, cfg Config, opts Options) (EvalReport, error) {
	cfg.Dir = dir
	cfg.ReloadInterval = -1
	svc, err := New(ctx, cfg, opts)
	if err != nil {
		return EvalReport{}, fmt.Errorf("loading knowledge base: %w", err)
	}
	if opts.Embedder != nil && svc.Base().vectors == nil {
		return EvalReport{}, fmt.Errorf("embedding the knowledge base failed; see the log")
	}
	set, err := LoadEvalSet(path, svc.Base())
	if err != nil {
		return EvalReport{}, err
	}
	return Evaluate(ctx, svc, set), nil
}
