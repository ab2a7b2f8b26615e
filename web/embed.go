// Package web embeds the chat widget and the demo page, so the binary serves
// them with no build step.
package web

import "embed"

// Static holds widget.js and index.html.
//
//go:embed static
var Static embed.FS
