package campaign_test

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kefu-gateway/kefu/internal/campaign/campaigncli"
	"github.com/kefu-gateway/kefu/internal/contacts"
)

// TestCLIAgainstARealCampaign creates a campaign with `kefu campaign
// create` and follows it with `kefu campaign status` to the end, through
// the operator API over HTTP.
func TestCLIAgainstARealCampaign(t *testing.T) {
	t.Parallel()
	e := setup(t, []string{"cli"}, options{})
	e.startWorkers(t, 4, time.Second)
	e.seed(t, "cli", 500, func(i int, u *contacts.Update) { u.AddTags = []string{"cli"} })
	app := adminApp(e)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = app.Listener(ln) }()
	t.Cleanup(func() { _ = app.Shutdown() })
	env := func(k string) string {
		return map[string]string{"KEFU_URL": "http://" + ln.Addr().String(), "KEFU_ADMIN_TOKEN": token}[k]
	}
	def := filepath.Join(t.TempDir(), "c.json")
	if err := os.WriteFile(def, []byte(`{"name":"命令行","audience":{"tags":["cli"]},"content":{"text":"hi"},"rate":"2000/s"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errw bytes.Buffer
	if code := campaigncli.Run(context.Background(), []string{"create", def}, &out, &errw, env); code != 0 {
		t.Fatalf("create: %d %s", code, errw.String())
	}
	id := regexp.MustCompile(`^(cmp_\S+):`).FindStringSubmatch(out.String())
	if id == nil {
		t.Fatalf("create printed %q", out.String())
	}
	out.Reset()
	if code := campaigncli.Run(context.Background(), []string{"status", id[1], "--interval", "100ms"}, &out, &errw, env); code != 0 {
		t.Fatalf("status: %d %s", code, errw.String())
	}
	if !strings.Contains(out.String(), "completed") || !strings.Contains(out.String(), "sent 500 · skipped 0 · failed 0") {
		t.Fatalf("status printed %q", out.String())
	}
	out.Reset()
	if code := campaigncli.Run(context.Background(), []string{"list"}, &out, &errw, env); code != 0 || !strings.Contains(out.String(), id[1]) {
		t.Fatalf("list: %d %q %s", code, out.String(), errw.String())
	}
}
