package knowledge

import (
	"bytes"
	"context"
	"testing"
)

// Targets for the demo knowledge base (issue 5): on the whole eval set the
// right answer is reached (directly or through one clarifying choice) for
// at least 90% of in-scope questions, at most 2% get a wrong answer, and at
// most 3% of out-of-scope questions get any answer. The held-out split was
// set aside before calibration; it must stay within looser bounds that show
// the calibration is not fitted to the tuning split.
func TestEvalTargets(t *testing.T) {
	r, err := EvalFile(context.Background(), "../../configs/knowledge", "testdata/eval.yaml", Config{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	r.Write(&buf, testing.Verbose())
	t.Log("\n" + buf.String())

	if r.All.InScope < 100 || r.All.OutOfScope < 30 {
		t.Fatalf("eval set has %d in-scope and %d out-of-scope cases, want ≥100 and ≥30", r.All.InScope, r.All.OutOfScope)
	}
	if r.Heldout.InScope < 40 || r.Heldout.OutOfScope < 10 {
		t.Fatalf("held-out split too small: %d / %d", r.Heldout.InScope, r.Heldout.OutOfScope)
	}
	check := func(name string, got, limit float64, atLeast bool) {
		if (atLeast && got < limit) || (!atLeast && got > limit) {
			t.Errorf("%s = %.3f, target %s %.3f", name, got, map[bool]string{true: "≥", false: "≤"}[atLeast], limit)
		}
	}
	check("accuracy", r.All.Accuracy(), 0.90, true)
	check("wrong-answer rate", r.All.WrongRate(), 0.02, false)
	check("out-of-scope false-answer rate", r.All.FalseAnswerRate(), 0.03, false)
	check("held-out accuracy", r.Heldout.Accuracy(), 0.85, true)
	check("held-out wrong-answer rate", r.Heldout.WrongRate(), 0.04, false)
	check("held-out out-of-scope false-answer rate", r.Heldout.FalseAnswerRate(), 0.07, false)
}
