package wxaccount

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kefu-gateway/kefu/adapters"
	"github.com/kefu-gateway/kefu/adapters/internal/wxcrypto"
	"github.com/kefu-gateway/kefu/adapters/internal/wxmsg"
	"github.com/kefu-gateway/kefu/adapters/message"
)

func TestStatusOf(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("opening callback: %w", err) }
	tests := []struct {
		err  error
		want int
	}{
		{wrap(wxcrypto.ErrSignatureMismatch), http.StatusUnauthorized},
		{wrap(wxcrypto.ErrStaleTimestamp), http.StatusUnauthorized},
		{wrap(wxcrypto.ErrReceiveIDMismatch), http.StatusUnauthorized},
		{wrap(wxcrypto.ErrMissingParam), http.StatusUnauthorized},
		{wrap(wxcrypto.ErrMalformedParam), http.StatusBadRequest},
		{wrap(wxcrypto.ErrMalformedCiphertext), http.StatusBadRequest},
		{wrap(wxcrypto.ErrMalformedEnvelope), http.StatusBadRequest},
		{wrap(wxcrypto.ErrNoAESKey), http.StatusBadRequest},
		{wrap(wxmsg.ErrMalformed), http.StatusBadRequest},
		{wrap(wxmsg.ErrMissingField), http.StatusBadRequest},
		{wrap(wxcrypto.ErrTooLarge), http.StatusRequestEntityTooLarge},
		{wrap(wxmsg.ErrTooLarge), http.StatusRequestEntityTooLarge},
		{&RequestError{Status: http.StatusBadRequest, Err: errors.New("x")}, http.StatusBadRequest},
		{errors.New("redis down"), http.StatusInternalServerError},
	}
	for _, tt := range tests {
		if got := StatusOf(tt.err); got != tt.want {
			t.Errorf("StatusOf(%v) = %d, want %d", tt.err, got, tt.want)
		}
	}
}

// A plain-mode account refuses encrypted pushes before any crypto runs.
func TestOpenPlainModeRefusesEncrypted(t *testing.T) {
	c := Common{ID: "a", AppID: "wx1", Token: "abc", MaxSkew: time.Minute, Encryption: EncryptionPlain}
	cr, err := c.Crypter(time.Now)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Open(cr, EncryptionPlain, wxcrypto.Query{EncryptType: "aes", MsgSignature: strings.Repeat("a", 40), Timestamp: "1", Nonce: "1"}, []byte("<xml/>"), wxcrypto.FormatXML)
	if StatusOf(err) != http.StatusBadRequest || !strings.Contains(err.Error(), "encryption: plain") {
		t.Fatalf("Open = %v", err)
	}
}

func TestTemplateRender(t *testing.T) {
	f := TemplateFallback{TemplateID: "T", MaxValueRunes: 5, Fields: map[string]string{"thing1": "{{text}}", "time2": "{{time}}", "const": "固定"}}
	got := f.Render("一二三四五六七", time.Date(2024, 4, 25, 1, 15, 0, 0, time.UTC))
	if got["thing1"] != "一二三四…" || got["time2"] != "2024…" || got["const"] != "固定" {
		t.Fatalf("Render = %v", got)
	}
	f.MaxValueRunes = 20
	if got := f.Render("x", time.Date(2024, 4, 25, 1, 15, 0, 0, time.UTC)); got["time2"] != "2024-04-25 09:15" {
		t.Fatalf("time in UTC+8 = %q", got["time2"])
	}
}

func TestTextOf(t *testing.T) {
	tests := []struct {
		m    message.Message
		want string
	}{
		{message.Message{Text: "你好"}, "你好"},
		{message.Message{Text: "  "}, ""},
		{message.Message{Text: "订单", Card: &message.Card{Title: "T", Description: "D", URL: "https://x.test"}}, "订单\nT\nD\nhttps://x.test"},
		{message.Message{Attachments: []message.Attachment{{Kind: message.KindImage, URL: "https://x.test/a.jpg"}, {Kind: message.KindVoice, MediaID: "m"}}}, "https://x.test/a.jpg"},
	}
	for _, tt := range tests {
		if got := TextOf(tt.m); got != tt.want {
			t.Errorf("TextOf(%+v) = %q, want %q", tt.m, got, tt.want)
		}
	}
}

// knownTurn is a turn whose duplicate check settles when known is closed.
type knownTurn struct {
	adapters.Turn
	known chan struct{}
	dup   bool
}

func (k *knownTurn) Known() <-chan struct{} { return k.known }
func (k *knownTurn) Duplicate() bool        { <-k.known; return k.dup }

// WaitDuplicate answers as soon as the router knows, and gives up at the
// deadline (a retry stuck behind its slow original) without blocking on it.
func TestWaitDuplicate(t *testing.T) {
	settled := &knownTurn{known: make(chan struct{}), dup: true}
	close(settled.known)
	if dup, known := WaitDuplicate(settled, time.Now().Add(-time.Second)); !dup || !known {
		t.Fatalf("settled retry: dup %v known %v, want true true even past the deadline", dup, known)
	}
	later := &knownTurn{known: make(chan struct{})}
	time.AfterFunc(20*time.Millisecond, func() { close(later.known) })
	if dup, known := WaitDuplicate(later, time.Now().Add(10*time.Second)); dup || !known {
		t.Fatalf("first delivery: dup %v known %v, want false true", dup, known)
	}
	stuck := &knownTurn{known: make(chan struct{})}
	start := time.Now()
	if dup, known := WaitDuplicate(stuck, time.Now().Add(30*time.Millisecond)); dup || known {
		t.Fatalf("stuck: dup %v known %v, want false false", dup, known)
	}
	if waited := time.Since(start); waited > 5*time.Second {
		t.Fatalf("waited %s past a 30 ms deadline", waited)
	}
}

// A push's CreateTime is the grant's start unless it is older than the
// replay window: zero (from now) for a replayed or hand-made one. A time
// ahead of kefu's clock is left to the tracker, which arms it from now.
func TestActionTime(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	for _, tt := range []struct {
		created time.Time
		want    time.Time
	}{
		{now.Add(-5 * time.Second), now.Add(-5 * time.Second)}, // a retry of a push 5 s old
		{now, now},
		{now.Add(10 * time.Second), now.Add(10 * time.Second)}, // WeChat's clock a little ahead
		{now.Add(-6 * time.Minute), time.Time{}},
		{now.Add(time.Hour), now.Add(time.Hour)},
		{time.Unix(1348831860, 0), time.Time{}}, // the documentation's sample push
		{time.Time{}, time.Time{}},
	} {
		if got := ActionTime(tt.created, now, 5*time.Minute); !got.Equal(tt.want) {
			t.Errorf("ActionTime(%s) = %s, want %s", tt.created, got, tt.want)
		}
	}
}
