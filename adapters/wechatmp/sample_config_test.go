package wechatmp_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kefu-gateway/kefu/internal/app"
	"github.com/kefu-gateway/kefu/internal/testutil/apptest"
)

// commentedBlock returns the commented-out `channels.<kind>` block of
// configs/kefu.yaml, uncommented.
func commentedBlock(t *testing.T, kind string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(apptest.RepoRoot(), "configs", "kefu.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	var out []string
	for i, l := range lines {
		if l != "  # "+kind+":" {
			continue
		}
		for _, l := range lines[i:] {
			if !strings.HasPrefix(l, "  # ") {
				break
			}
			out = append(out, "  "+strings.TrimPrefix(l, "  # "))
		}
	}
	if len(out) == 0 {
		t.Fatalf("configs/kefu.yaml has no commented %s block", kind)
	}
	return strings.Join(out, "\n")
}

// The commented wechat_mp block of configs/kefu.yaml, uncommented, is a
// valid configuration: every key it documents exists with a valid value.
func TestSampleConfigBlock(t *testing.T) {
	t.Parallel()
	src := "channels:\n" + commentedBlock(t, "wechat_mp") + "\n"
	env := map[string]string{"WX_APP_SECRET": "s3cr3t", "WX_APP_TOKEN": "tok3n", "WX_APP_AES_KEY": aesKey}
	if _, err := app.ParseConfig("kefu.yaml", []byte(src), func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err != nil {
		t.Fatalf("the sample wechat_mp block does not validate:\n%s\n%v", src, err)
	}
}
