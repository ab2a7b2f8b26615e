package web

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"time"
)

// Visitor tokens are "<payload>.<signature>", both base64url without
// padding: the payload is JSON naming the site, the visitor and the issue
// time; the signature is HMAC-SHA256 over a versioned prefix and the
// payload. They need no Redis look-up to verify.
const tokenContext = "kefu-web-token-v1."

type claims struct {
	Site    string `json:"s"`
	Visitor string `json:"v"`
	Name    string `json:"n,omitempty"`
	Issued  int64  `json:"iat"`
}

var errBadToken = errors.New("invalid or expired visitor token")

func signToken(secret []byte, c claims) string {
	payload, _ := json.Marshal(c)
	p := base64.RawURLEncoding.EncodeToString(payload)
	return p + "." + base64.RawURLEncoding.EncodeToString(mac(secret, p))
}

func mac(secret []byte, payload string) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(tokenContext))
	h.Write([]byte(payload))
	return h.Sum(nil)
}

// verifyToken checks the signature, the site and the age of a token.
func verifyToken(secret []byte, token, site string, ttl time.Duration, now time.Time) (claims, error) {
	var c claims
	if len(token) > 2048 {
		return c, errBadToken
	}
	p, s, ok := strings.Cut(token, ".")
	if !ok {
		return c, errBadToken
	}
	sig, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || !hmac.Equal(sig, mac(secret, p)) {
		return c, errBadToken
	}
	raw, err := base64.RawURLEncoding.DecodeString(p)
	if err != nil || json.Unmarshal(raw, &c) != nil {
		return c, errBadToken
	}
	issued := time.Unix(c.Issued, 0)
	if c.Site != site || c.Visitor == "" || now.Sub(issued) > ttl || issued.After(now.Add(time.Minute)) {
		return c, errBadToken
	}
	return c, nil
}

// randomID returns a prefixed, unguessable id (128 random bits).
func randomID(prefix string) string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return prefix + base64.RawURLEncoding.EncodeToString(b)
}
