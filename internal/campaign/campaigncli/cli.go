// Package campaigncli is `kefu campaign ...`: list, create, watch, pause,
// resume and cancel campaigns through the operator API.
//
// It talks to the operator API (--url, --token) rather than to Redis: the
// same code path, permissions and validation as any other operator tool,
// from any machine that can reach kefu, without Redis credentials.
package campaigncli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/kefu-gateway/kefu/internal/campaign"
)

const usage = `usage: kefu campaign [--url URL] [--token TOKEN] COMMAND

commands:
  list                      campaigns, newest first
  create FILE.json          create a campaign from a JSON definition (- = stdin)
  status ID [--once]        progress; a live bar until the campaign ends
  pause ID | resume ID | cancel ID

flags:
  --url URL        kefu's address (default $KEFU_URL, else http://127.0.0.1:8080)
  --token TOKEN    operator API token (default $KEFU_ADMIN_TOKEN)
  --interval D     how often status refreshes (default 1s)
  --timeout D      bound on each call to kefu (default 15s)
`

// RunCLI runs `kefu campaign` with args (after "campaign") and returns the
// exit code: 0 done, 1 failed, 2 usage. It stops on SIGINT/SIGTERM.
func RunCLI(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return Run(ctx, args, stdout, stderr, os.Getenv)
}

// Run is RunCLI with a context and an environment lookup.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	fs := flag.NewFlagSet("kefu campaign", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	base := getenv("KEFU_URL")
	if base == "" {
		base = "http://127.0.0.1:8080"
	}
	url := fs.String("url", base, "")
	token := fs.String("token", getenv("KEFU_ADMIN_TOKEN"), "")
	interval := fs.Duration("interval", time.Second, "")
	once := fs.Bool("once", false, "")
	timeout := fs.Duration("timeout", 15*time.Second, "")
	if err := parse(fs, args); err != nil {
		fmt.Fprintf(stderr, "kefu campaign: %v\n\n%s", err, usage)
		return 2
	}
	rest := fs.Args()
	if len(rest) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	if *token == "" {
		fmt.Fprintln(stderr, "kefu campaign: no operator API token: pass --token or set KEFU_ADMIN_TOKEN")
		return 2
	}
	if *interval < 100*time.Millisecond {
		*interval = 100 * time.Millisecond
	}
	if *timeout <= 0 {
		*timeout = 15 * time.Second
	}
	c := &client{base: strings.TrimRight(*url, "/"), token: *token, timeout: *timeout}
	cmd, arg := rest[0], ""
	if len(rest) > 1 {
		arg = rest[1]
	}
	needArg := map[string]bool{"create": true, "status": true, "pause": true, "resume": true, "cancel": true}
	if needArg[cmd] && (arg == "" || len(rest) > 2) {
		fmt.Fprintf(stderr, "kefu campaign %s: give exactly one %s\n", cmd, map[bool]string{true: "FILE", false: "ID"}[cmd == "create"])
		return 2
	}
	var err error
	switch cmd {
	case "list":
		err = list(ctx, c, stdout)
	case "create":
		err = create(ctx, c, arg, stdout)
	case "status":
		err = watch(ctx, c, arg, *interval, *once, stdout)
	case "pause", "resume", "cancel":
		var p *campaign.Progress
		if p, err = c.control(ctx, arg, cmd); err == nil {
			fmt.Fprintf(stdout, "%s: %s\n", p.ID, p.Status)
		}
	default:
		fmt.Fprintf(stderr, "kefu campaign: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return 1
		}
		fmt.Fprintf(stderr, "kefu campaign %s: %v\n", cmd, err)
		return 1
	}
	return 0
}

// parse lets flags come before or after the command and its argument.
func parse(fs *flag.FlagSet, args []string) error {
	var pos []string
	for len(args) > 0 {
		if err := fs.Parse(args); err != nil {
			return err
		}
		args = fs.Args()
		if len(args) > 0 {
			pos = append(pos, args[0])
			args = args[1:]
		}
	}
	return fs.Parse(append([]string{"--"}, pos...))
}

func list(ctx context.Context, c *client, out io.Writer) error {
	ps, err := c.list(ctx)
	if err != nil {
		return err
	}
	if len(ps) == 0 {
		fmt.Fprintln(out, "no campaigns")
		return nil
	}
	fmt.Fprintf(out, "%-28s %-10s %8s %8s %8s %8s  %s\n", "ID", "STATUS", "TOTAL", "SENT", "SKIPPED", "FAILED", "NAME")
	for _, p := range ps {
		fmt.Fprintf(out, "%-28s %-10s %8d %8d %8d %8d  %s\n", p.ID, p.Status, p.Total, p.Sent, p.Skipped, p.Failed, p.Name)
	}
	return nil
}

func create(ctx context.Context, c *client, file string, out io.Writer) error {
	var body []byte
	var err error
	if file == "-" {
		body, err = io.ReadAll(os.Stdin)
	} else {
		body, err = os.ReadFile(file)
	}
	if err != nil {
		return fmt.Errorf("reading the definition: %w", err)
	}
	p, err := c.create(ctx, body)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "%s: %s (watch it with: kefu campaign status %s)\n", p.ID, p.Status, p.ID)
	return nil
}
