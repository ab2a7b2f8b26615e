// Package e2e holds tests that drive kefu from the outside: a real headless
// Chromium against the widget, and real kefu processes.
package e2e

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Browser starts a headless Chromium for the test, or skips the test when
// none is installed (failing instead when KEFU_REQUIRE_BROWSER=1, as under
// `make test`, which installs Debian's chromium first).
func Browser(t testing.TB) context.Context {
	t.Helper()
	path := os.Getenv("KEFU_CHROMIUM")
	if path == "" {
		for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
			if p, err := exec.LookPath(name); err == nil {
				path = p
				break
			}
		}
	}
	if path == "" {
		if os.Getenv("KEFU_REQUIRE_BROWSER") == "1" {
			t.Fatal("no chromium found (set KEFU_CHROMIUM or run `make test`, which installs it)")
		}
		t.Skip("no chromium found; run `make test` to install Debian's chromium")
	}
	// Chromium may still write to its profile while exiting, so the folder
	// is removed after it has gone, not by t.TempDir's strict cleanup.
	profile, err := os.MkdirTemp("", "kefu-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.UserDataDir(profile),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
		for i := 0; i < 20 && os.RemoveAll(profile) != nil; i++ {
			time.Sleep(100 * time.Millisecond)
		}
	})
	if err := chromedp.Run(ctx); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	return ctx
}
