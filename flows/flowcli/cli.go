// Package flowcli implements `kefu flows lint|test|schema`.
package flowcli

import (
	"flag"
	"fmt"
	"io"

	"github.com/kefu-gateway/kefu/flows"
	"github.com/kefu-gateway/kefu/flows/flowtest"
)

// DefaultPath is where flows are looked for when no PATH is given.
const DefaultPath = "configs/flows"

const usage = `usage: kefu flows <command> [PATH...]

commands:
  lint [PATH...]    check flow files; prints file:line: message per problem; exit 1 on any error
  test [PATH...]    run conversation tests (*_test.yaml); prints one line per failing case,
                    then "N passed, N failed"; exit 1 if any failed
  schema            print the JSON Schema of flow files (for editors)

PATH is a flow file, a test file or a directory (searched recursively); default ` + DefaultPath + `.
`

// RunCLI runs a flows subcommand and returns the process exit code: 0 ok,
// 1 problems or failures, 2 usage errors.
func RunCLI(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd, rest := args[0], args[1:]
	fs := flag.NewFlagSet("kefu flows "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	if err := fs.Parse(rest); err != nil {
		return 2
	}
	paths := fs.Args()
	if len(paths) == 0 {
		paths = []string{DefaultPath}
	}
	switch cmd {
	case "lint":
		return lint(paths, stdout, stderr)
	case "test":
		return test(paths, stdout)
	case "schema":
		_, _ = stdout.Write(flows.Schema())
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "kefu flows: unknown command %q\n\n%s", cmd, usage)
	return 2
}

func lint(paths []string, stdout, stderr io.Writer) int {
	set, probs := flows.Lint(paths...)
	for _, p := range probs {
		fmt.Fprintln(stdout, p.String())
	}
	errs := len(probs.Errors())
	if errs > 0 {
		fmt.Fprintf(stderr, "%d errors, %d warnings\n", errs, len(probs)-errs)
		return 1
	}
	fmt.Fprintf(stderr, "ok: %d flows in %d files, %d warnings\n", len(set.Flows), len(set.Files), len(probs))
	return 0
}

func test(paths []string, stdout io.Writer) int {
	rep := flowtest.RunPaths(paths, flows.Config{})
	for _, p := range rep.Problems {
		fmt.Fprintln(stdout, p.String())
	}
	for _, f := range rep.Failures {
		fmt.Fprintln(stdout, f)
	}
	fmt.Fprintln(stdout, rep.Summary())
	if !rep.OK() {
		return 1
	}
	return 0
}
