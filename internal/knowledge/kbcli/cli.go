// Package kbcli implements `kefu kb ...`: checking and evaluating a
// knowledge base, and listing the questions it could not answer.
package kbcli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/kefu-gateway/kefu/internal/knowledge"
	"github.com/kefu-gateway/kefu/internal/llm"
)

// DefaultEvalSet is the demo shop's evaluation set, relative to the
// repository root.
const DefaultEvalSet = "internal/knowledge/testdata/eval.yaml"

// Targets applied by `eval --check` (issue 5).
const (
	targetAccuracy   = 0.90
	targetWrongRate  = 0.02
	targetFalseRates = 0.03
)

const usage = `usage: kefu kb <command> [flags]

commands:
  lint  [--dir D]                      check the knowledge files; problems as file:line: message
  eval  [--dir D] [--set FILE] [-v] [--check] [--embeddings MODEL]
                                       answer every question of an eval set and print accuracy,
                                       wrong-answer rate and out-of-scope false-answer rate
  gaps  [--redis URL] [-n N] [--prefix P]
                                       the questions kefu could not answer, most asked first
`

// RunCLI runs one `kefu kb` command and returns the process exit code: 0 on
// success, 1 when the command found problems or failed, 2 on bad usage.
func RunCLI(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "lint":
		return runLint(args[1:], stdout, stderr)
	case "eval":
		return runEval(args[1:], stdout, stderr)
	case "gaps":
		return runGaps(args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "kefu kb: unknown command %q\n%s", args[0], usage)
	return 2
}

// checkDir refuses a knowledge folder that is not there, as kefu does at
// start: loading one gives an empty base, which a lint would pass and an
// eval would score as a poor one. Problems read file:line, as the lint's do.
func checkDir(dir string) error {
	fi, err := os.Stat(dir)
	var pe *fs.PathError
	switch {
	case errors.As(err, &pe):
		return fmt.Errorf("%s:0: cannot read: %w", dir, pe.Err)
	case err != nil:
		return fmt.Errorf("%s:0: cannot read: %w", dir, err)
	case !fi.IsDir():
		return fmt.Errorf("%s:0: not a directory", dir)
	}
	return nil
}

func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("kefu kb "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

func runLint(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("lint", stderr)
	dir := fs.String("dir", knowledge.DefaultDir, "knowledge directory")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if err := checkDir(*dir); err != nil {
		fmt.Fprintln(stdout, err)
		return 1
	}
	b, err := knowledge.LoadDir(*dir)
	if err != nil {
		fmt.Fprintln(stdout, err)
		return 1
	}
	fmt.Fprintf(stdout, "%s: %d FAQs, %d passages, no problems\n", *dir, len(b.FAQs), len(b.Passages))
	return 0
}

func runEval(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("eval", stderr)
	dir := fs.String("dir", knowledge.DefaultDir, "knowledge directory")
	set := fs.String("set", DefaultEvalSet, "evaluation set file")
	verbose := fs.Bool("v", false, "list every case not answered correctly or rejected")
	embedModel := fs.String("embeddings", "", "blend in vectors from this embeddings model, served at $KEFU_LLM_BASE_URL with $KEFU_LLM_API_KEY (to calibrate hybrid retrieval)")
	check := fs.Bool("check", false, fmt.Sprintf("exit 1 unless accuracy ≥ %.2f, wrong answers ≤ %.2f and out-of-scope false answers ≤ %.2f", targetAccuracy, targetWrongRate, targetFalseRates))
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if err := checkDir(*dir); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	var opts knowledge.Options
	if *embedModel != "" {
		client, err := llm.New(llm.Config{BaseURL: os.Getenv("KEFU_LLM_BASE_URL"), APIKey: os.Getenv("KEFU_LLM_API_KEY"), EmbeddingModel: *embedModel}, llm.Options{})
		if err == nil && !client.Enabled() {
			err = errors.New("--embeddings needs KEFU_LLM_BASE_URL")
		}
		if err != nil {
			fmt.Fprintln(stderr, "kefu kb eval:", err)
			return 2
		}
		opts.Embedder = client
	}
	r, err := knowledge.EvalFile(context.Background(), *dir, *set, knowledge.Config{}, opts)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	r.Write(stdout, *verbose)
	if *check {
		var fails []string
		if a := r.All.Accuracy(); a < targetAccuracy {
			fails = append(fails, fmt.Sprintf("accuracy %.3f < %.2f", a, targetAccuracy))
		}
		if w := r.All.WrongRate(); w > targetWrongRate {
			fails = append(fails, fmt.Sprintf("wrong-answer rate %.3f > %.2f", w, targetWrongRate))
		}
		if f := r.All.FalseAnswerRate(); f > targetFalseRates {
			fails = append(fails, fmt.Sprintf("out-of-scope false-answer rate %.3f > %.2f", f, targetFalseRates))
		}
		if len(fails) > 0 {
			fmt.Fprintln(stdout, "targets missed: "+strings.Join(fails, "; "))
			return 1
		}
		fmt.Fprintln(stdout, "targets met")
	}
	return 0
}

func runGaps(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("gaps", stderr)
	url := fs.String("redis", os.Getenv("KEFU_REDIS_URL"), "Redis URL (default $KEFU_REDIS_URL)")
	n := fs.Int("n", 20, "how many entries to list")
	prefix := fs.String("prefix", "", "key prefix of the gap records (default kefu:kb:gaps)")
	timeout := fs.Duration("timeout", 5*time.Second, "Redis timeout")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *n < 1 {
		fmt.Fprintln(stderr, "kefu kb gaps: -n must be at least 1")
		return 2
	}
	if *url == "" {
		fmt.Fprintln(stderr, "kefu kb gaps: no Redis: pass --redis URL or set KEFU_REDIS_URL (the embedded demo Redis keeps nothing to list)")
		return 2
	}
	opts, err := redis.ParseURL(*url)
	if err != nil {
		fmt.Fprintf(stderr, "kefu kb gaps: parsing --redis: %v\n", err)
		return 2
	}
	client := redis.NewClient(opts)
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	top, err := knowledge.NewGaps(client, knowledge.GapConfig{Prefix: *prefix}).Top(ctx, *n)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			fmt.Fprintf(stderr, "kefu kb gaps: Redis did not answer within %s\n", *timeout)
		} else {
			fmt.Fprintf(stderr, "kefu kb gaps: %v\n", err)
		}
		return 1
	}
	if len(top) == 0 {
		fmt.Fprintln(stdout, "no unanswered questions recorded")
		return 0
	}
	fmt.Fprintf(stdout, "%5s  %s\n", "count", "question (samples)")
	for _, g := range top {
		fmt.Fprintf(stdout, "%5d  %s\n", g.Count, g.Question)
		for _, s := range g.Samples {
			fmt.Fprintf(stdout, "       · %s\n", s)
		}
	}
	return 0
}
