package handoff_test

import (
	"encoding/json"
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"
)

func TestOperatorAPI(t *testing.T) {
	e := setup(t, options{handoff: `
agent_channel: fake
queues:
  - { id: presales, name: 售前 }
  - id: night
    business_hours: { holidays: ["2000-01-01..2099-12-31"] }
agents:
  - { id: alice, name: Alice, wecom_user: alice-wx, wecom_app: WECOM, max_concurrent: 1 }
  - { id: bob, name: Bob, wecom_user: bob-wx, wecom_app: WECOM, max_concurrent: 2 }
`})
	app := fiber.New()
	e.svc.MountAdmin(app.Group("/admin/api"))
	call := func(method, path, body string, wantStatus int, out any) {
		t.Helper()
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := app.Test(req, 5000)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != wantStatus {
			t.Fatalf("%s %s = %d %s, want %d", method, path, resp.StatusCode, b, wantStatus)
		}
		if out != nil {
			if err := json.Unmarshal(b, out); err != nil {
				t.Fatalf("%s %s: %v: %s", method, path, err, b)
			}
		}
	}

	e.agent("alice-wx", "/online")
	e.customer("u1", "hi")
	e.customer("u2", "hi")
	e.customer("u3", "hi")
	// Operators hand conversations over by id.
	call("POST", "/admin/api/handoff/requests", `{"conversation_id":"`+e.conv("u1")+`","reason":"投诉"}`, 202, nil)
	var d struct {
		Status   string `json:"status"`
		Position int    `json:"position"`
		Agent    string `json:"agent"`
		Reason   string `json:"reason"`
	}
	call("POST", "/admin/api/handoff/requests", `{"conversation_id":"`+e.conv("u2")+`"}`, 202, &d)
	if d.Status != "queued" || d.Position != 1 || d.Reason != "operator" {
		t.Fatalf("second request = %+v", d)
	}
	call("POST", "/admin/api/handoff/requests", `{"conversation_id":"`+e.conv("u3")+`","queue":"presales"}`, 202, nil)
	call("POST", "/admin/api/handoff/requests", `{"conversation_id":"nope"}`, 404, nil)
	call("POST", "/admin/api/handoff/requests", `{"conversation_id":"`+e.conv("u3")+`","queue":"nope"}`, 404, nil)
	call("POST", "/admin/api/handoff/requests", `not json`, 400, nil)
	call("POST", "/admin/api/handoff/requests", `{}`, 400, nil)
	e.waitFor(e.wecom, "alice-wx", "原因：投诉")

	var queues []struct {
		ID           string  `json:"id"`
		Open         bool    `json:"open"`
		OpensAt      string  `json:"opens_at"`
		Waiting      int     `json:"waiting"`
		Longest      float64 `json:"longest_wait_seconds"`
		Agents       int     `json:"agents"`
		AgentsOnline int     `json:"agents_online"`
	}
	call("GET", "/admin/api/handoff/queues", "", 200, &queues)
	if len(queues) != 2 || queues[0].ID != "presales" || queues[0].Waiting != 2 || !queues[0].Open ||
		queues[0].Agents != 2 || queues[0].AgentsOnline != 1 || queues[0].Longest < 0 {
		t.Fatalf("queues = %+v", queues)
	}
	if queues[1].Open || queues[1].OpensAt != "" {
		t.Fatalf("night queue = %+v", queues[1])
	}

	var waiting []struct {
		Conversation string  `json:"conversation"`
		Position     int     `json:"position"`
		Waiting      float64 `json:"waiting_seconds"`
		CustomerName string  `json:"customer_name"`
	}
	call("GET", "/admin/api/handoff/waiting?queue=presales", "", 200, &waiting)
	if len(waiting) != 2 || waiting[0].Conversation != e.conv("u2") || waiting[0].Position != 1 ||
		waiting[1].Position != 2 || waiting[1].CustomerName != "顾客u3" {
		t.Fatalf("waiting = %+v", waiting)
	}
	call("GET", "/admin/api/handoff/waiting?queue=nope", "", 404, nil)

	var agents []struct {
		ID            string   `json:"id"`
		Online        bool     `json:"online"`
		Load          int      `json:"load"`
		Max           int      `json:"max_concurrent"`
		Conversations []string `json:"conversations"`
	}
	call("GET", "/admin/api/handoff/agents", "", 200, &agents)
	if len(agents) != 2 || !agents[0].Online || agents[0].Load != 1 || agents[0].Max != 1 ||
		agents[0].Conversations[0] != e.conv("u1") || agents[1].Online || agents[1].Load != 0 {
		t.Fatalf("agents = %+v", agents)
	}

	call("GET", "/admin/api/handoff/conversations/"+e.conv("u1"), "", 200, &d)
	if d.Status != "assigned" || d.Agent != "alice" || d.Reason != "投诉" {
		t.Fatalf("detail = %+v", d)
	}
	call("GET", "/admin/api/handoff/conversations/nope", "", 404, nil)

	var csat []struct {
		Agent string `json:"agent"`
		Count int    `json:"count"`
	}
	call("GET", "/admin/api/handoff/csat", "", 200, &csat)
	if len(csat) != 2 || csat[0].Count != 0 {
		t.Fatalf("csat = %+v", csat)
	}
	var msgs []any
	call("GET", "/admin/api/handoff/messages", "", 200, &msgs)
	call("GET", "/admin/api/handoff/messages?limit=0", "", 400, nil)
}
