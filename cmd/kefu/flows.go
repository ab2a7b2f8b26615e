package main

import (
	"io"

	"github.com/kefu-gateway/kefu/flows/flowcli"
)

// flowsCmd runs `kefu flows lint|test|schema [PATH...]`.
func flowsCmd(args []string, stdout, stderr io.Writer) int {
	return flowcli.RunCLI(args, stdout, stderr)
}
