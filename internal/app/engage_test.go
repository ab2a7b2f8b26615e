package app_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kefu-gateway/kefu/internal/testutil/apptest"
)

const engageFlows = `
flows:
  - id: news
    triggers: { keywords: [关注新品] }
    steps:
      - set: { tags: { add: [新品] } }
      - say: 好的，新品到了第一时间告诉您
      - followup: { id: news-hello, delay: 1s, text: 新品到了，来看看吧 }
  - id: remind
    triggers: { keywords: [稍后提醒] }
    steps:
      - say: 好的
      - followup: { id: remind-me, delay: 1500ms, text: 提醒您：购物车里还有商品, cancel_on_reply: true }
`

func engageServer(t *testing.T) *apptest.Server {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "f.yaml"), []byte(engageFlows), 0o644)
	return apptest.Start(t, fmt.Sprintf(`
workers: { poll_interval: 100ms }
flows: { dir: %s }
knowledge: { dir: %s/configs/knowledge }
contacts: { quiet_hours: { start: "", end: "" } }
admin:
  token: ${KEFU_ADMIN_TOKEN}
channels: { web: [ { id: s } ] }
`, dir, apptest.RepoRoot()), apptest.Options{Env: map[string]string{"KEFU_ADMIN_TOKEN": "0123456789abcdef-admin"}})
}

func (v *visitor) seesWithin(want string, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		for _, m := range v.history() {
			if m.From == "bot" && strings.Contains(m.Text, want) {
				return true
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}

func admin(t *testing.T, srv *apptest.Server, method, path, body string, out any) int {
	t.Helper()
	req, _ := http.NewRequest(method, srv.URL+"/admin/api"+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer 0123456789abcdef-admin")
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %s: %v", method, path, b, err)
		}
	}
	return res.StatusCode
}

// Follow-ups scheduled by flows fire after their delay, are cancelled by a
// reply when asked, and never reach a customer who opted out with TD.
func TestFollowUpsAndOptOutThroughTheApp(t *testing.T) {
	srv := engageServer(t)
	v := newVisitor(t, srv.URL, "s")
	v.say("关注新品")
	if !v.seesWithin("新品到了，来看看吧", 6*time.Second) {
		t.Fatal("the follow-up never arrived")
	}
	v.say("稍后提醒")
	v.say("不用了谢谢")
	if v.seesWithin("提醒您", 3*time.Second) {
		t.Fatal("a cancel-on-reply follow-up fired after the customer replied")
	}
	if r := joined(v.say("TD")); !strings.Contains(r, "退订") {
		t.Fatalf("TD → %q, want the opt-out confirmation", r)
	}
	if r := joined(v.say("TD")); r != "" {
		t.Errorf("a second TD was confirmed again: %q", r)
	}
	before := len(v.history())
	v.say("关注新品")
	time.Sleep(2500 * time.Millisecond)
	for _, m := range v.history()[before:] {
		if strings.Contains(m.Text, "来看看吧") {
			t.Fatal("an opted-out customer got a follow-up")
		}
	}
	var c struct {
		OptedOut   bool     `json:"opted_out"`
		Tags       []string `json:"tags"`
		Identities []struct {
			Meta map[string]string `json:"meta"`
		} `json:"identities"`
	}
	visitorID := tokenVisitor(t, v.token)
	if st := admin(t, srv, "GET", "/contacts/lookup?channel=web&account=s&id="+visitorID, "", &c); st != 200 {
		t.Fatalf("contact lookup: %d", st)
	}
	if !c.OptedOut || len(c.Tags) != 1 || c.Tags[0] != "新品" {
		t.Fatalf("contact = %+v, want opted out and tagged by the flow", c)
	}
	// A web message's client id describes that message: the identity does
	// not keep it (nor would a follow-up carry it).
	if len(c.Identities) != 1 || len(c.Identities[0].Meta) != 0 {
		t.Errorf("identities = %+v, want one without routing meta", c.Identities)
	}
	// The first message and the opt-out keywords observe the contact in
	// full; the replies in between only move its times (so cancel-on-reply
	// above saw the reply through the short path).
	res, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	for _, path := range []string{"full", "times_only"} {
		if !strings.Contains(string(b), `kefu_contact_observations_total{path="`+path+`"}`) {
			t.Errorf("/metrics has no %s contact observations", path)
		}
	}
}

// A campaign created through the operator API reaches every tagged contact
// once and counts the opted-out one as skipped.
func TestCampaignThroughTheOperatorAPI(t *testing.T) {
	srv := engageServer(t)
	var vs []*visitor
	for i := 0; i < 3; i++ {
		v := newVisitor(t, srv.URL, "s")
		v.say("关注新品")
		vs = append(vs, v)
	}
	vs[2].say("TD")
	untagged := newVisitor(t, srv.URL, "s")
	untagged.say("你好")
	var cerr map[string]any
	if st := admin(t, srv, "POST", "/campaigns", `{"id":"c1","name":"双十一","audience":{"tags":["新品"]},"content":{"text":"双十一新品八折"},"rate":"unlimited"}`, &cerr); st != 201 {
		t.Logf("%v", cerr)
		t.Fatalf("creating the campaign: %d", st)
	}
	var p struct {
		Status    string         `json:"status"`
		Sent      int            `json:"sent"`
		Skipped   int            `json:"skipped"`
		SkippedBy map[string]int `json:"skipped_by"`
	}
	deadline := time.Now().Add(15 * time.Second)
	for p.Status != "completed" {
		if time.Now().After(deadline) {
			t.Fatalf("campaign progress %+v", p)
		}
		time.Sleep(100 * time.Millisecond)
		admin(t, srv, "GET", "/campaigns/c1", "", &p)
	}
	if p.Sent != 2 || p.Skipped != 1 || p.SkippedBy["opted_out"] != 1 {
		t.Fatalf("campaign result %+v, want 2 sent and the opted-out one skipped", p)
	}
	for i, v := range vs[:2] {
		if !v.seesWithin("双十一新品八折", time.Second) {
			t.Errorf("tagged visitor %d did not get the campaign", i)
		}
	}
	if untagged.seesWithin("双十一新品八折", 200*time.Millisecond) {
		t.Error("an untagged visitor got the campaign")
	}
	if st := admin(t, srv, "POST", "/campaigns", `{"audience":{}}`, nil); st != 400 {
		t.Errorf("invalid campaign body: %d, want 400", st)
	}
}

// tokenVisitor reads the visitor id out of a web token's payload.
func tokenVisitor(t *testing.T, token string) string {
	payload, _, _ := strings.Cut(token, ".")
	b, err := decodeRawURL(payload)
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		V string `json:"v"`
	}
	json.Unmarshal(b, &c)
	return c.V
}

func decodeRawURL(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }
