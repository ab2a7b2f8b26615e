package wechatmp_test

import (
	"testing"

	"github.com/kefu-gateway/kefu/adapters/internal/conformance"
)

// TestConformance runs the shared channel suite against a mini-program
// pushing XML and JSON, plain and encrypted.
func TestConformance(t *testing.T) {
	t.Parallel()
	conformance.ConcurrentRun(t, []string{"xml-plain", "xml-safe", "json-plain", "json-safe"}, func(t *testing.T, mode string) conformance.Harness {
		return newHarness(t, mode)
	})
}
