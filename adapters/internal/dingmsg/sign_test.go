package dingmsg

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kefu-gateway/kefu/adapters/internal/wxcrypto"
)

const secret = "gQkz0KkHXHZ2Uu0E5tE4TjdJ3-sYiqcuEvCqJ4-Wt8N3EewRi8wW8cTT9Bw5aHi9"

func TestSignMatchesDefinition(t *testing.T) {
	ts := "1700000000000"
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "\n" + secret))
	want := base64.StdEncoding.EncodeToString(mac.Sum(nil))
	if got := Sign(ts, secret); got != want {
		t.Fatalf("Sign = %s, want %s", got, want)
	}
}

func TestVerifySign(t *testing.T) {
	now := time.UnixMilli(1700000000000)
	ts := func(d time.Duration) string { return strconv.FormatInt(now.Add(d).UnixMilli(), 10) }
	tests := []struct {
		name      string
		timestamp string
		sign      string
		window    time.Duration
		want      error
	}{
		{"valid", ts(0), Sign(ts(0), secret), 0, nil},
		{"59 minutes old", ts(-59 * time.Minute), Sign(ts(-59*time.Minute), secret), 0, nil},
		{"61 minutes old", ts(-61 * time.Minute), Sign(ts(-61*time.Minute), secret), 0, ErrStaleTimestamp},
		{"61 minutes ahead", ts(61 * time.Minute), Sign(ts(61*time.Minute), secret), 0, ErrStaleTimestamp},
		// Correctly signed but centuries ahead: the skew saturates, and once
		// passed the check by overflowing when negated.
		{"centuries ahead", "99999999999999", Sign("99999999999999", secret), 0, ErrStaleTimestamp},
		{"custom window", ts(-2 * time.Minute), Sign(ts(-2*time.Minute), secret), time.Minute, ErrStaleTimestamp},
		{"wrong secret", ts(0), Sign(ts(0), "other"), 0, ErrSignatureMismatch},
		{"sign of another timestamp", ts(0), Sign(ts(time.Second), secret), 0, ErrSignatureMismatch},
		{"url-encoded sign", ts(0), strings.ReplaceAll(Sign(ts(0), secret), "+", "%2B") + "%3D", 0, ErrSignatureMismatch},
		{"no timestamp", "", "x", 0, ErrMissingHeader},
		{"no sign", ts(0), "", 0, ErrMissingHeader},
		{"seconds not a number", "17e11", "x", 0, ErrMalformedHeader},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := VerifySign(tt.timestamp, tt.sign, secret, now, tt.window)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("VerifySign = %v, want %v", err, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), secret) {
				t.Fatal("error leaks the secret")
			}
			if errors.Is(tt.want, ErrSignatureMismatch) || errors.Is(tt.want, ErrStaleTimestamp) {
				if !wxcrypto.IsAuthFailure(err) {
					t.Fatal("auth failure not recognised by wxcrypto.IsAuthFailure")
				}
			}
		})
	}
}
