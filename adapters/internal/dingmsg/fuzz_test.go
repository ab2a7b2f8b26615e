package dingmsg

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzParse feeds arbitrary bodies: never a panic, and every accepted message
// has an id, a sender and a conversation.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := Parse(src, body)
		if err != nil {
			return
		}
		if m.ID == "" || m.From.ID == "" || m.ConversationID == "" || m.Kind == "" {
			t.Fatalf("incomplete message accepted: %+v", m)
		}
	})
}

// FuzzVerifySign feeds arbitrary headers: never a panic, and nothing but the
// exact signature verifies.
func FuzzVerifySign(f *testing.F) {
	f.Add("1700000000000", Sign("1700000000000", secret))
	f.Add("-1", "")
	f.Add("99999999999999999999", "=")
	now := time.UnixMilli(1700000000000)
	f.Fuzz(func(t *testing.T, timestamp, sign string) {
		if err := VerifySign(timestamp, sign, secret, now, 0); err == nil && sign != Sign(timestamp, secret) {
			t.Fatalf("accepted a wrong sign %q for %q", sign, timestamp)
		}
	})
}
