package wechatoa

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/kefu-gateway/kefu/adapters"
	"github.com/kefu-gateway/kefu/adapters/message"
)

func text(id, s string) message.Message {
	return message.Message{ID: id, Kind: message.KindText, Text: s}
}

func ids(ms []message.Message) string {
	var out []string
	for _, m := range ms {
		out = append(out, m.ID)
	}
	return strings.Join(out, ",")
}

func TestFitPassive(t *testing.T) {
	big := strings.Repeat("长", 700) // 2100 bytes
	tests := []struct {
		name    string
		replies []message.Message
		limit   int
		hint    string
		text    string
		carried int
		rest    string
	}{
		{"one", []message.Message{text("a", "你好")}, 2048, "", "你好", 1, ""},
		{"merged", []message.Message{text("a", "一"), text("b", "二"), text("c", "三")}, 2048, "", "一\n\n二\n\n三", 3, ""},
		{"stops at the limit, keeps order", []message.Message{text("a", strings.Repeat("x", 1000)), text("b", strings.Repeat("y", 1040)), text("c", strings.Repeat("z", 10))},
			2048, "", strings.Repeat("x", 1000) + "\n\n" + strings.Repeat("y", 1040), 2, "c"},
		{"a later short one does not jump the queue", []message.Message{text("a", strings.Repeat("x", 1500)), text("b", strings.Repeat("y", 1000)), text("c", "z")},
			2048, "", strings.Repeat("x", 1500), 1, "b,c"},
		{"first over the limit is split", []message.Message{text("a", big), text("b", "二")}, 2048, "", strings.Repeat("长", 682), 1, "a.p2,b"},
		{"empty replies skipped", []message.Message{{ID: "e", Kind: message.KindImage}, text("a", "一")}, 2048, "", "一", 1, ""},
		{"nothing showable", []message.Message{{ID: "e", Kind: message.KindImage}}, 2048, "", "", 0, ""},
		{"card rendered", []message.Message{{ID: "c", Kind: message.KindCard, Card: &message.Card{Title: "订单", URL: "https://x.test/o"}}}, 2048, "", "订单\nhttps://x.test/o", 1, ""},
		{"more hint when something is left", []message.Message{text("a", strings.Repeat("x", 2000)), text("b", strings.Repeat("y", 50))}, 2048 - 13, "（更多）", strings.Repeat("x", 2000) + "\n（更多）", 1, "b"},
		{"no hint when all fit", []message.Message{text("a", "一"), text("b", "二")}, 2000, "（更多）", "一\n\n二", 2, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, carried, rest := fitPassive(tt.replies, tt.limit, tt.hint)
			if got != tt.text || carried != tt.carried || ids(rest) != tt.rest {
				t.Fatalf("fitPassive = %q (%d bytes), %d, [%s]; want %q, %d, [%s]", got, len(got), carried, ids(rest), tt.text, tt.carried, tt.rest)
			}
			if tt.hint != "" && len(got) > 2048 {
				t.Fatalf("text with hint is %d bytes", len(got))
			}
		})
	}
}

// recordingTurn is an adapters.Turn that records what is handed back.
type recordingTurn struct {
	mu       sync.Mutex
	returned [][]message.Message
	handler  *bool // set when the HTTP handler has returned
	after    []bool
	done     chan struct{}
}

func (r *recordingTurn) Duplicate() bool        { return false }
func (r *recordingTurn) Known() <-chan struct{} { c := make(chan struct{}); close(c); return c }
func (r *recordingTurn) TakePassive(context.Context, time.Duration) ([]message.Message, bool) {
	return nil, false
}
func (r *recordingTurn) Done() <-chan struct{} { return nil }
func (r *recordingTurn) Err() error            { return nil }
func (r *recordingTurn) Return(ms []message.Message) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.returned = append(r.returned, ms)
	r.after = append(r.after, *r.handler)
	close(r.done)
}

var _ adapters.Turn = (*recordingTurn)(nil)

// The leftovers go back to the router once the passive body has been
// written — after the handler returned, never inside it — and only those.
func TestWriteThenReturn(t *testing.T) {
	// The handler and the response writing run on one goroutine, so the
	// flag needs no lock.
	var handlerDone bool
	turn := &recordingTurn{handler: &handlerDone, done: make(chan struct{})}
	all := []message.Message{text("a", "一"), text("b", "二")}
	app := fiber.New()
	app.Post("/", func(c *fiber.Ctx) error {
		writeThenReturn(c, []byte("<xml>passive</xml>"), turn, all, all[1:])
		handlerDone = true
		return nil
	})
	res, err := app.Test(httptestRequest(), -1)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	if string(body) != "<xml>passive</xml>" || res.ContentLength != int64(len(body)) {
		t.Fatalf("response %q with Content-Length %d", body, res.ContentLength)
	}
	select {
	case <-turn.done:
	case <-time.After(2 * time.Second):
		t.Fatal("leftovers never handed back")
	}
	turn.mu.Lock()
	defer turn.mu.Unlock()
	if len(turn.returned) != 1 || ids(turn.returned[0]) != "b" || !turn.after[0] {
		t.Fatalf("returned %v (after the handler: %v), want [b] once after the handler", turn.returned, turn.after)
	}
}

func httptestRequest() *http.Request {
	r, _ := http.NewRequest(http.MethodPost, "/", bytes.NewReader(nil))
	return r
}

// A body that was not written in full hands back every reply of the turn:
// the customer never saw the passive one.
func TestReturnOnCloseUnwritten(t *testing.T) {
	var got []bool
	b := &returnOnClose{r: bytes.NewReader([]byte("0123456789")), onClose: func(written bool) { got = append(got, written) }}
	buf := make([]byte, 4)
	_, _ = b.Read(buf)
	_ = b.Close()
	_ = b.Close()
	if len(got) != 1 || got[0] {
		t.Fatalf("onClose calls %v, want one with written=false", got)
	}
	b = &returnOnClose{r: bytes.NewReader([]byte("01")), onClose: func(written bool) { got = append(got, written) }}
	_, _ = io.ReadAll(b)
	_ = b.Close()
	if len(got) != 2 || !got[1] {
		t.Fatalf("onClose calls %v, want written=true after a full read", got)
	}
}
