package conformance

import (
	"testing"
	"unicode/utf8"

	"github.com/kefu-gateway/kefu/flows"
)

// The suite's flows must load, and the long reply must need three parts at
// WeChat's 2048-byte limit for the split check to mean anything.
func TestFlowsLoad(t *testing.T) {
	if _, err := flows.LoadDir(FlowsDir(t)); err != nil {
		t.Fatal(err)
	}
	if n := len(LongReply); n <= 2*2048 || !utf8.ValidString(LongReply) {
		t.Fatalf("LongReply is %d bytes (valid UTF-8: %v), want more than 4096", n, utf8.ValidString(LongReply))
	}
}
