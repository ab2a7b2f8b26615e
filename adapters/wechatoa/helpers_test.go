package wechatoa_test

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kefu-gateway/kefu/adapters/internal/conformance"
	"github.com/kefu-gateway/kefu/adapters/internal/fakeplatform"
	"github.com/kefu-gateway/kefu/adapters/message"
	"github.com/kefu-gateway/kefu/internal/testutil/apptest"
	"github.com/kefu-gateway/kefu/router"
)

// Answers of this package's test flows (testFlows).
const (
	answerHello     = "您好，欢迎光临小店！"
	answerSubscribe = "感谢关注小店！"
	answerPoster    = "感谢扫描海报关注！"
	answerScan      = "欢迎回到门店store42。"
	answerHelp      = "这是帮助菜单。"
	answerFirst     = "第一条回复。"
	answerSecond    = "第二条回复。"
	unsupported     = "抱歉，我暂时只能看懂文字消息，请用文字描述您的问题。"
)

// testFlows writes the flows the package's end-to-end tests answer with.
// slowURL is the address the 查物流 flow's http step calls.
func testFlows(t testing.TB, slowURL string) string {
	t.Helper()
	q := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	src := `flows:
  - id: hello
    triggers: { keywords: [你好] }
    steps: [ { say: ` + q(answerHello) + ` } ]
  - id: welcome
    triggers: { events: [subscribe] }
    steps: [ { say: ` + q(answerSubscribe) + ` } ]
  - id: poster
    triggers: { events: ["subscribe:poster2024"] }
    steps: [ { say: ` + q(answerPoster) + ` } ]
  - id: scan
    triggers: { events: [scan] }
    steps: [ { say: "欢迎回到门店{{input.key}}。" } ]
  - id: help
    triggers: { events: ["click:MENU_HELP"] }
    steps: [ { say: ` + q(answerHelp) + ` } ]
  - id: two
    triggers: { keywords: [两条] }
    steps: [ { say: ` + q(answerFirst) + ` }, { say: ` + q(answerSecond) + ` } ]
  - id: long
    triggers: { keywords: [长回复] }
    steps: [ { say: ` + q(conformance.LongReply) + ` } ]
  - id: tracking
    triggers: { keywords: [查物流] }
    steps:
      - http: { url: ` + q(slowURL) + `, timeout: 30s, map: { status: response.status } }
        on_error: [ { say: 查询失败 } ]
      - say: "物流状态：{{slots.status}}"
`
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "test.yaml"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// exchange posts req to srv and returns the status and body.
func exchange(t testing.TB, srv *apptest.Server, req *http.Request) (int, []byte) {
	t.Helper()
	req = req.Clone(context.Background())
	req.URL.Scheme, req.URL.Host, req.Host, req.RequestURI = "http", srv.Addr, srv.Addr, ""
	if req.GetBody != nil {
		req.Body, _ = req.GetBody()
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, body
}

// say sends payload as a push of h's mode and returns the passive reply's
// text ("" for success / empty).
func (h *harness) say(t testing.TB, srv *apptest.Server, payload []byte) (int, string) {
	t.Helper()
	status, body := exchange(t, srv, h.push(t, h.signer, payload))
	if status != http.StatusOK {
		return status, string(body)
	}
	r, ok := h.openReply(t, body)
	if !ok {
		return status, ""
	}
	return status, r.Content
}

// transcript reads a conversation's transcript.
func transcript(t testing.TB, srv *apptest.Server, conv string) []message.Message {
	t.Helper()
	ms, err := router.NewTranscriptReader(srv.DB.Client, srv.App.Store.Keys).After(context.Background(), conv, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

// eventually polls cond every 20 ms for up to d.
func eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// activeTexts returns the texts sent to customer through the API.
func (h *harness) activeTexts(t testing.TB, customer string) []string {
	var out []string
	for _, s := range h.Active(t, customer) {
		out = append(out, s.Text)
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if strings.Contains(x, s) {
			return true
		}
	}
	return false
}

func xmlUnmarshal(b []byte, v any) error { return xml.Unmarshal(b, v) }

// oaEvent is an event push from customer to the test account.
func oaEvent(customer, event, key string, at time.Time) []byte {
	return fakeplatform.OAEvent(customer, ghID, event, key, at)
}

// oaText is a text push from customer to the test account.
func oaText(customer, text string, id int64, at time.Time) []byte {
	return fakeplatform.OAText(customer, ghID, text, id, at)
}
