package campaign_test

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/hibiken/asynq"
	"github.com/kefu-gateway/kefu/adapters"
	"github.com/kefu-gateway/kefu/adapters/message"
	"github.com/kefu-gateway/kefu/internal/campaign"
	"github.com/kefu-gateway/kefu/internal/contacts"
	"github.com/kefu-gateway/kefu/internal/followup"
	"github.com/kefu-gateway/kefu/internal/testutil/fakechannel"
	"github.com/kefu-gateway/kefu/router"
)

const token = "0123456789abcdef-admin"

// adminApp mounts the engage routes the way internal/app does: on the
// /admin/api group behind a bearer token check.
func adminApp(e *env) *fiber.App {
	app := fiber.New(fiber.Config{BodyLimit: 64 << 10})
	g := app.Group("/admin/api", func(c *fiber.Ctx) error {
		got, ok := strings.CutPrefix(c.Get(fiber.HeaderAuthorization), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(token)) != 1 {
			return c.Status(fiber.StatusUnauthorized).JSON(fiber.Map{"error": "missing or wrong bearer token"})
		}
		return c.Next()
	})
	sched := followup.NewScheduler(e.out, e.tasks, asynq.NewInspectorFromRedisClient(e.db.Client))
	for _, m := range []interface{ MountAdmin(fiber.Router) }{
		contacts.NewAPI(e.contacts, router.NewTranscriptReader(e.db.Client, e.keys), e.as.Lookup, e.log),
		followup.NewAPI(sched),
		campaign.NewAPI(e.svc),
	} {
		m.MountAdmin(g)
	}
	return app
}

type apiResult struct {
	status int
	body   map[string]any
	raw    string
}

func call(t *testing.T, app *fiber.App, method, path, body string, hdr ...string) apiResult {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	res, err := app.Test(req, 10_000)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	r := apiResult{status: res.StatusCode, raw: string(raw)}
	_ = json.Unmarshal(raw, &r.body)
	return r
}

func golden(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "api", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestOperatorAPIRefusesMissingAndWrongTokens(t *testing.T) {
	t.Parallel()
	e := setup(t, []string{"api-auth"}, options{})
	app := adminApp(e)
	for _, r := range app.GetRoutes(true) {
		if !strings.HasPrefix(r.Path, "/admin/api/") || r.Method == "HEAD" {
			continue
		}
		path := strings.NewReplacer(":id", "x", ":conv", "x", ":key", "x").Replace(r.Path)
		for _, auth := range []string{"", "Bearer wrong", "Basic " + token} {
			req := httptest.NewRequest(r.Method, path, strings.NewReader(`{}`))
			if auth != "" {
				req.Header.Set("Authorization", auth)
			}
			res, err := app.Test(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusUnauthorized {
				t.Errorf("%s %s with %q: %d, want 401", r.Method, path, auth, res.StatusCode)
			}
		}
	}
}

func TestOperatorAPI(t *testing.T) {
	t.Parallel()
	e := setup(t, []string{"api"}, options{})
	e.startWorkers(t, 4, time.Second)
	app := adminApp(e)
	fakechannel.Get("api").SetWindow(func(p message.Party) adapters.Window {
		return adapters.Window{Open: true, Remaining: 4, Closes: time.Now().Add(47 * time.Hour)}
	})

	// Contacts: import, search by tag, get, update, notes, link, lookup.
	r := call(t, app, "POST", "/admin/api/contacts", golden(t, "import_contacts.json"))
	if r.status != 201 || len(r.body["ids"].([]any)) != 2 {
		t.Fatalf("import: %d %s", r.status, r.raw)
	}
	id := r.body["ids"].([]any)[0].(string)
	r = call(t, app, "GET", "/admin/api/contacts?tag=vip&tag="+url.QueryEscape("问过尺码"), "")
	if r.status != 200 || len(r.body["contacts"].([]any)) != 1 {
		t.Fatalf("search: %d %s", r.status, r.raw)
	}
	r = call(t, app, "GET", "/admin/api/contacts/"+id, "")
	ident := r.body["identities"].([]any)[0].(map[string]any)
	if r.status != 200 || r.body["name"] != "王女士" || ident["window"].(map[string]any)["remaining"] != 4.0 {
		t.Fatalf("get: %d %s", r.status, r.raw)
	}
	r = call(t, app, "PATCH", "/admin/api/contacts/"+id, golden(t, "update_contact.json"))
	attrs := r.body["attributes"].(map[string]any)
	if r.status != 200 || r.body["name"] != "王芳" || attrs["size"] != "L" || attrs["city"] != nil || strings.Join(toStrings(r.body["tags"]), ",") != "vip,复购" {
		t.Fatalf("update: %d %s", r.status, r.raw)
	}
	r = call(t, app, "POST", "/admin/api/contacts/"+id+"/notes", `{"text":"客户偏好宽松款","author":"amy"}`)
	if r.status != 201 || len(r.body["notes"].([]any)) != 1 {
		t.Fatalf("note: %d %s", r.status, r.raw)
	}
	r = call(t, app, "POST", "/admin/api/contacts/"+id+"/identities", `{"channel":"fake","account":"api","id":"oA2"}`)
	if r.status != 200 || r.body["merged"] == "" || len(r.body["contact"].(map[string]any)["identities"].([]any)) != 2 ||
		r.body["contact"].(map[string]any)["opted_out"] != true {
		t.Fatalf("link: %d %s", r.status, r.raw)
	}
	r = call(t, app, "GET", "/admin/api/contacts/lookup?channel=fake&account=api&id=oA2", "")
	if r.status != 200 || r.body["id"] != id {
		t.Fatalf("lookup: %d %s", r.status, r.raw)
	}

	// A conversation's transcript.
	conv := "fake:api:oA1"
	if _, err := e.r.Record(context.Background(), router.Delivery{ConversationID: conv, Channel: "fake", Account: "api",
		Messages: []message.Message{{From: message.Party{ID: "oA1", Role: message.RoleCustomer}, Text: "有M码吗"}, {From: message.Party{Role: message.RoleBot}, Text: "有的"}}}); err != nil {
		t.Fatal(err)
	}
	r = call(t, app, "GET", "/admin/api/conversations/"+url.PathEscape(conv)+"/transcript?limit=10", "")
	msgs, _ := r.body["messages"].([]any)
	if r.status != 200 || len(msgs) != 2 || msgs[1].(map[string]any)["text"] != "有的" {
		t.Fatalf("transcript: %d %s", r.status, r.raw)
	}
	first := msgs[0].(map[string]any)["id"].(string)
	if r = call(t, app, "GET", "/admin/api/conversations/"+url.PathEscape(conv)+"/transcript?after="+first, ""); len(r.body["messages"].([]any)) != 1 {
		t.Fatalf("transcript after: %s", r.raw)
	}

	// Follow-ups of a contact.
	r = call(t, app, "POST", "/admin/api/contacts/"+id+"/followups", golden(t, "create_followup.json"))
	if r.status != 201 || r.body["status"] != "scheduled" || r.body["source"] != "api:amy" || r.body["cancel_on_reply"] != true {
		t.Fatalf("follow-up: %d %s", r.status, r.raw)
	}
	key := r.body["key"].(string)
	r = call(t, app, "GET", "/admin/api/contacts/"+id+"/followups", "")
	if r.status != 200 || len(r.body["followups"].([]any)) != 1 {
		t.Fatalf("follow-ups: %d %s", r.status, r.raw)
	}
	if r = call(t, app, "DELETE", "/admin/api/contacts/"+id+"/followups/"+url.PathEscape(key), ""); r.status != 200 {
		t.Fatalf("cancel follow-up: %d %s", r.status, r.raw)
	}
	if r = call(t, app, "DELETE", "/admin/api/contacts/"+id+"/followups/"+url.PathEscape(key), ""); r.status != 404 {
		t.Fatalf("cancel it again: %d %s", r.status, r.raw)
	}

	// Campaigns: create, progress, list, pause/resume/cancel.
	r = call(t, app, "POST", "/admin/api/campaigns", golden(t, "create_campaign.json"))
	if r.status != 201 || r.body["id"] != "double11-vip" || r.body["rate"] != "20/s" {
		t.Fatalf("create campaign: %d %s", r.status, r.raw)
	}
	deadline := time.Now().Add(10 * time.Second)
	for r.body["status"] != "completed" && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		r = call(t, app, "GET", "/admin/api/campaigns/double11-vip", "")
	}
	// The two imported contacts were linked into one, which had opted out.
	if r.body["status"] != "completed" || r.body["total"] != 1.0 || r.body["skipped_by"].(map[string]any)["opted_out"] != 1.0 {
		t.Fatalf("campaign progress: %s", r.raw)
	}
	if r = call(t, app, "POST", "/admin/api/campaigns", golden(t, "create_campaign.json")); r.status != 409 || r.body["field"] != "id" {
		t.Fatalf("same id again: %d %s", r.status, r.raw)
	}
	if r = call(t, app, "POST", "/admin/api/campaigns/double11-vip/pause", ""); r.status != 409 || !strings.Contains(r.raw, "completed") {
		t.Fatalf("pause a completed campaign: %d %s", r.status, r.raw)
	}
	r = call(t, app, "POST", "/admin/api/campaigns", `{"name":"later","audience":{"tags":["vip"]},"content":{"flow":"promo"},"schedule_at":"`+time.Now().Add(time.Hour).UTC().Format(time.RFC3339)+`"}`)
	later := r.body["id"].(string)
	for _, step := range []struct{ action, status string }{{"pause", "paused"}, {"resume", "scheduled"}, {"cancel", "cancelled"}} {
		if r = call(t, app, "POST", "/admin/api/campaigns/"+later+"/"+step.action, ""); r.status != 200 || r.body["status"] != step.status {
			t.Fatalf("%s: %d %s", step.action, r.status, r.raw)
		}
	}
	if r = call(t, app, "GET", "/admin/api/campaigns?limit=5", ""); r.status != 200 || len(r.body["campaigns"].([]any)) != 2 {
		t.Fatalf("list: %d %s", r.status, r.raw)
	}
}

func toStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

func TestOperatorAPIRefusesInvalidBodies(t *testing.T) {
	t.Parallel()
	e := setup(t, []string{"api-bad"}, options{contacts: func(c *contacts.Config) { c.MaxTags = 2 }})
	app := adminApp(e)
	r := call(t, app, "POST", "/admin/api/contacts", `{"contacts":[{"identity":{"channel":"fake","account":"api","id":"u1"}}]}`)
	id := r.body["ids"].([]any)[0].(string)
	for _, tc := range []struct {
		method, path, body string
		hdr                []string
		status             int
		field, msg         string
	}{
		{"PATCH", "/admin/api/contacts/" + id, ``, nil, 400, "", "a JSON body is required"},
		{"PATCH", "/admin/api/contacts/" + id, `{"tags":["x"]}`, nil, 400, "tags", "unknown field"},
		{"PATCH", "/admin/api/contacts/" + id, `{"add_tags":"vip"}`, nil, 400, "add_tags", "must be an array"},
		{"PATCH", "/admin/api/contacts/" + id, `{"add_tags":["a b"]}`, nil, 400, "add_tags", "must not contain spaces"},
		{"PATCH", "/admin/api/contacts/" + id, `{"add_tags":["a","b","c"]}`, nil, 409, "tags", "at most 2 tags"},
		{"PATCH", "/admin/api/contacts/" + id, `{"timezone":"Moon/Base"}`, nil, 400, "timezone", "unknown time zone"},
		{"PATCH", "/admin/api/contacts/" + id, `{"name":"x"} {"name":"y"}`, nil, 400, "", "one object expected"},
		{"PATCH", "/admin/api/contacts/" + id, `{"name":`, nil, 400, "", "invalid JSON body"},
		{"PATCH", "/admin/api/contacts/" + id, `{}`, nil, 400, "", "nothing to change"},
		{"PATCH", "/admin/api/contacts/" + id, `name=x`, []string{"Content-Type", "application/x-www-form-urlencoded"}, 415, "", "application/json"},
		{"PATCH", "/admin/api/contacts/cnope", `{"name":"x"}`, nil, 404, "", "no such contact"},
		{"POST", "/admin/api/contacts", `{"contacts":[]}`, nil, 400, "contacts", "at least one"},
		{"POST", "/admin/api/contacts", `{"contacts":[{"identity":{"channel":"fake","account":"a/b","id":"u"}}]}`, nil, 400, "contacts[0].identity.account", "without '/'"},
		{"POST", "/admin/api/contacts/" + id + "/identities", `{"channel":"fake"}`, nil, 400, "account", ""},
		{"POST", "/admin/api/contacts/" + id + "/notes", `{"text":""}`, nil, 400, "note", ""},
		{"GET", "/admin/api/contacts?limit=0", ``, nil, 400, "limit", ""},
		{"GET", "/admin/api/contacts?tag=a%20b", ``, nil, 400, "tag", ""},
		{"GET", "/admin/api/contacts/lookup?channel=fake", ``, nil, 400, "account", ""},
		{"GET", "/admin/api/conversations/x/transcript?after=abc", ``, nil, 400, "after", ""},
		{"POST", "/admin/api/contacts/" + id + "/followups", `{"id":"x","delay":"tomorrow","text":"hi"}`, nil, 400, "delay", "duration"},
		{"POST", "/admin/api/contacts/" + id + "/followups", `{"id":"x","delay":"1h"}`, nil, 400, "text", "exactly one"},
		{"POST", "/admin/api/contacts/" + id + "/followups", `{"id":"x","delay":"1h","text":"hi","channel":"web"}`, nil, 400, "conversation_id", "no such"},
		{"GET", "/admin/api/contacts/cnope/followups", ``, nil, 404, "", "no such contact"},
		{"POST", "/admin/api/campaigns", `{"name":"x","audience":{},"content":{"text":"hi"}}`, nil, 400, "audience", "everyone"},
		{"POST", "/admin/api/campaigns", `{"name":"x","audience":{"tags":["t"]},"content":{"text":"hi"},"rate":"fast"}`, nil, 400, "", "EVENTS/PER"},
		{"POST", "/admin/api/campaigns", `{"name":"x","audience":{"tags":["t"]},"content":{"flow":"nope"}}`, nil, 400, "content.flow", "no flow"},
		{"POST", "/admin/api/campaigns", `{"name":"x","audience":{"tags":["t"]},"content":{"text":"hi"},"schedule_at":"tomorrow"}`, nil, 400, "", "invalid JSON body"},
		{"POST", "/admin/api/campaigns", `{"name":"x","audiance":{"tags":["t"]}}`, nil, 400, "audiance", "unknown field"},
		{"GET", "/admin/api/campaigns/nope", ``, nil, 404, "", "no such campaign"},
		{"POST", "/admin/api/campaigns/nope/resume", ``, nil, 404, "", "no such campaign"},
		{"GET", "/admin/api/campaigns?limit=x", ``, nil, 400, "limit", ""},
	} {
		r := call(t, app, tc.method, tc.path, tc.body, tc.hdr...)
		if r.status != tc.status || (tc.field != "" && r.body["field"] != tc.field) || (tc.msg != "" && !strings.Contains(r.raw, tc.msg)) {
			t.Errorf("%s %s %.60s: %d %s; want %d field %q containing %q", tc.method, tc.path, tc.body, r.status, r.raw, tc.status, tc.field, tc.msg)
		}
	}
}
