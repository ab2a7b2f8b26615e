// Package flowset loads flows for tests from YAML text, through the same
// loader kefu uses on its flows directory.
package flowset

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/kefu-gateway/kefu/flows"
)

// Load writes body as the only flow file of a temporary directory and loads
// that directory; a flow the loader rejects fails the test.
func Load(t testing.TB, body string) *flows.Set {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "f.yaml"), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	set, err := flows.LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	return set
}
