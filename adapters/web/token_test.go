package web

import (
	"strings"
	"testing"
	"time"
)

func TestTokens(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	now := time.Unix(1_800_000_000, 0)
	tok := signToken(secret, claims{Site: "shop", Visitor: "v_1", Name: "王", Issued: now.Unix()})
	c, err := verifyToken(secret, tok, "shop", time.Hour, now.Add(time.Minute))
	if err != nil || c.Visitor != "v_1" || c.Name != "王" {
		t.Fatalf("valid token: %+v %v", c, err)
	}
	bad := map[string]func() (string, string, time.Time, []byte){
		"other site":  func() (string, string, time.Time, []byte) { return tok, "other", now, secret },
		"expired":     func() (string, string, time.Time, []byte) { return tok, "shop", now.Add(2 * time.Hour), secret },
		"from future": func() (string, string, time.Time, []byte) { return tok, "shop", now.Add(-time.Hour), secret },
		"other secret": func() (string, string, time.Time, []byte) {
			return tok, "shop", now, []byte("another-secret-another-secret!!")
		},
		"tampered":     func() (string, string, time.Time, []byte) { return "x" + tok, "shop", now, secret },
		"no signature": func() (string, string, time.Time, []byte) { return strings.Split(tok, ".")[0], "shop", now, secret },
		"empty":        func() (string, string, time.Time, []byte) { return "", "shop", now, secret },
		"huge":         func() (string, string, time.Time, []byte) { return strings.Repeat("a", 5000), "shop", now, secret },
		"swapped parts": func() (string, string, time.Time, []byte) {
			p := strings.Split(tok, ".")
			return p[1] + "." + p[0], "shop", now, secret
		},
	}
	for name, f := range bad {
		tk, site, at, sec := f()
		if _, err := verifyToken(sec, tk, site, time.Hour, at); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func FuzzVerifyToken(f *testing.F) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	f.Add(signToken(secret, claims{Site: "shop", Visitor: "v", Issued: 1_800_000_000}))
	f.Add("e30.AAAA")
	f.Add("..")
	f.Fuzz(func(t *testing.T, tok string) {
		c, err := verifyToken(secret, tok, "shop", 24*time.Hour, time.Unix(1_800_000_100, 0))
		if err == nil && (c.Site != "shop" || c.Visitor == "") {
			t.Fatalf("accepted a token with claims %+v", c)
		}
	})
}
