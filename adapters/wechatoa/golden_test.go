package wechatoa_test

import (
	"bytes"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kefu-gateway/kefu/adapters/internal/fakeplatform"
	"github.com/kefu-gateway/kefu/adapters/internal/wxcrypto"
	"github.com/kefu-gateway/kefu/internal/clock"
	"github.com/kefu-gateway/kefu/internal/testutil/apptest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// goldenTime is when the golden requests were signed.
var goldenTime = time.Unix(1714036504, 0)

func goldenConfig(t *testing.T) string {
	return fmt.Sprintf(`
flows: { dir: %q }
channels:
  wechat_oa:
    - { id: %s, app_id: %s, token: %s, encoding_aes_key: %s, encryption: safe, passive_budget: 1s, merge_window: 0s }
    - { id: vector, app_id: wxvector, token: AAAAA, passive_budget: 1s, merge_window: 0s }
`, testFlows(t, "http://127.0.0.1:1/unused"), account, appID, token, aesKey)
}

// Tencent's published signature vector (PROTOCOLS.md §0: Token AAAAA,
// timestamp 1714036504, nonce 1514711492) passes the URL check at that
// time, and is refused as stale an hour later.
func TestURLCheckTencentVector(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(goldenTime)
	srv := apptest.Start(t, goldenConfig(t), apptest.Options{Clock: clk, NoWorkers: true})
	req, _ := http.NewRequest(http.MethodGet, "/wechat/oa/vector?signature=f464b24fc39322e44b38aa78f5edd27bd1441696&timestamp=1714036504&nonce=1514711492&echostr=4721356127783571", nil)
	if status, body := exchange(t, srv, req); status != http.StatusOK || string(body) != "4721356127783571" {
		t.Fatalf("URL check with the published vector answered %d %q", status, body)
	}
	clk.Advance(time.Hour)
	if status, _ := exchange(t, srv, req); status != http.StatusUnauthorized {
		t.Fatalf("the same request an hour later answered %d, want 401", status)
	}
}

// A safe-mode push recorded once (testdata/encrypted/text.*: query and body
// as WeChat sends them, signed at goldenTime) is opened and answered with
// an encrypted passive reply whose plaintext is pinned in
// testdata/encrypted/text_reply.xml. Regenerate with -update.
func TestGoldenEncryptedPush(t *testing.T) {
	t.Parallel()
	dir := filepath.Join("testdata", "encrypted")
	if *update {
		s := fakeplatform.CallbackSigner{Token: token, EncodingAESKey: aesKey, ReceiveID: appID, Now: func() time.Time { return goldenTime }, Nonce: "1514711492"}
		req, err := s.EncryptedPush(path, readFile(t, "push/text.xml"), wxcrypto.FormatXML)
		if err != nil {
			t.Fatal(err)
		}
		writeGolden(t, filepath.Join(dir, "text.query"), []byte(req.URL.RawQuery))
		writeGolden(t, filepath.Join(dir, "text.xml"), readBody(t, req))
	}
	query := strings.TrimSpace(string(readFile(t, "encrypted/text.query")))
	body := readFile(t, "encrypted/text.xml")
	srv := apptest.Start(t, goldenConfig(t), apptest.Options{Clock: clock.NewFake(goldenTime), NoWorkers: true})
	req, _ := http.NewRequest(http.MethodPost, path+"?"+query, bytes.NewReader(body))
	status, reply := exchange(t, srv, setBody(req, body))
	if status != http.StatusOK {
		t.Fatalf("golden push answered %d %q", status, reply)
	}
	s := fakeplatform.CallbackSigner{Token: token, EncodingAESKey: aesKey, ReceiveID: appID}
	plain, err := s.OpenReply(reply, wxcrypto.FormatXML)
	if err != nil {
		t.Fatalf("opening the reply: %v", err)
	}
	golden := filepath.Join(dir, "text_reply.xml")
	if *update {
		writeGolden(t, golden, plain)
	}
	if want := readFile(t, "encrypted/text_reply.xml"); !bytes.Equal(plain, want) {
		t.Fatalf("reply plaintext differs from %s:\n got %s\nwant %s", golden, plain, want)
	}
	// The same bytes again are a retry: acknowledged, not answered twice.
	if status, again := exchange(t, srv, setBody(req.Clone(req.Context()), body)); status != http.StatusOK || string(again) != "success" {
		t.Fatalf("replayed golden push answered %d %q, want success", status, again)
	}
}

func writeGolden(t *testing.T, name string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
