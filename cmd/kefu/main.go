// Command kefu is the customer-service gateway. See README.md.
//
//	kefu [serve] [--config FILE] [--workers=false]
//	kefu worker [--config FILE]
//	kefu flows lint|test|schema [PATH...]
package main

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

	_ "github.com/kefu-gateway/kefu/adapters/all"
	"github.com/kefu-gateway/kefu/internal/app"
	"github.com/kefu-gateway/kefu/internal/campaign/campaigncli"
	"github.com/kefu-gateway/kefu/internal/knowledge/kbcli"
	"github.com/kefu-gateway/kefu/internal/logging"
	"go.uber.org/zap"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `kefu — customer-service gateway for WeChat, WeCom, DingTalk and the web

Usage:
  kefu [serve] [--config FILE] [--workers=false]   HTTP server for every channel (+ workers)
  kefu worker [--config FILE]                      background workers only
  kefu flows lint [PATH...]                        check flow files (file:line: message)
  kefu flows test [PATH...]                        run flow conversation tests
  kefu flows schema                                print the flow files' JSON Schema
  kefu kb eval [--dir D] [--set FILE]              knowledge base accuracy on an evaluation set
  kefu kb gaps [--redis URL] [-n N]                questions kefu could not answer, most asked first
  kefu kb lint [--dir D]                           check knowledge files (file:line: message)
  kefu campaign list|create|status|pause|resume|cancel   campaigns through the operator API
  kefu version                                     print the version

The configuration file is --config, else $KEFU_CONFIG, else configs/kefu.yaml.
`

func run(args []string, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serve(args, stderr, true)
	case "worker":
		return serve(args, stderr, false)
	case "flows":
		return flowsCmd(args, stdout, stderr)
	case "kb":
		return kbcli.RunCLI(args, stdout, stderr)
	case "campaign":
		return campaigncli.RunCLI(args, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "kefu", version)
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "kefu: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
}

func serve(args []string, stderr io.Writer, httpServer bool) int {
	name := "serve"
	if !httpServer {
		name = "worker"
	}
	fs := flag.NewFlagSet("kefu "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	configFlag := fs.String("config", "", "configuration file (default $KEFU_CONFIG, else configs/kefu.yaml)")
	withWorkers := true
	if httpServer {
		fs.BoolVar(&withWorkers, "workers", true, "also run the background workers in this process")
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "kefu %s: unexpected argument %q\n", name, fs.Arg(0))
		return 2
	}
	path := app.ConfigPath(*configFlag, os.LookupEnv)
	cfg, err := app.LoadConfig(path, nil)
	if err != nil {
		fmt.Fprintf(stderr, "kefu: invalid configuration:\n%v\n", err)
		return 2
	}
	log, err := logging.New(cfg.Log)
	if err != nil {
		fmt.Fprintf(stderr, "kefu: %v\n", err)
		return 2
	}
	defer func() { _ = log.Sync() }()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if !httpServer && cfg.Redis.URL == "" {
		log.Error(app.ErrNeedsSharedRedis.Error())
		return 2
	}
	a, err := app.New(ctx, cfg, log, app.Options{HTTP: httpServer, Workers: withWorkers || !httpServer})
	if err != nil {
		fmt.Fprintf(stderr, "kefu: %v\n", err)
		return 1
	}
	if err := a.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
		log.Error("kefu stopped", zap.Error(err))
		return 1
	}
	return 0
}
