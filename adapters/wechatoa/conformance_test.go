package wechatoa_test

import (
	"testing"

	"github.com/kefu-gateway/kefu/adapters/internal/conformance"
)

// TestConformance runs the shared channel suite against a verified official
// account in each of the console's three message modes.
func TestConformance(t *testing.T) {
	t.Parallel()
	conformance.ConcurrentRun(t, []string{"plain", "compatible", "safe"}, func(t *testing.T, mode string) conformance.Harness {
		return newHarness(t, mode, "")
	})
}
