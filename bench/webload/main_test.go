package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/kefu-gateway/kefu/internal/testutil/redistest"
)

// The load tool's kefu finds the demo flows and knowledge base from
// wherever it runs inside the repository: `go test` runs here, in
// bench/webload, and a relative knowledge.dir once failed the start from
// anywhere but the root.
func TestBenchKefuStartsAndAnswers(t *testing.T) {
	db := redistest.New(t)
	ctx := context.Background()
	kefu, base, err := startKefu(ctx, db.URL, "bench", "kefubench:")
	if err != nil {
		t.Fatal(err)
	}
	defer kefu.Shutdown(ctx)
	var s struct{ Token string }
	if err := call(http.DefaultClient, "POST", base+"/api/web/bench/sessions", "", []byte(`{}`), &s); err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]string{"type": "text", "text": "你好"})
	var out struct{ Replies []struct{ Text string } }
	if err := call(http.DefaultClient, "POST", base+"/api/web/bench/messages", s.Token, body, &out); err != nil {
		t.Fatal(err)
	}
	if len(out.Replies) == 0 || !strings.Contains(out.Replies[0].Text, "您好") {
		t.Fatalf("replies %+v, want the demo greeting", out.Replies)
	}
}
