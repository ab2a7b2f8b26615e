package wxcrypto

import (
	"fmt"
	"net/url"
	"strings"
)

// Size limits for callback query parameters. Real values are far smaller
// (a 40-character hex signature, a 10-digit timestamp, a numeric nonce, a
// base64 echostr of a few dozen bytes); anything beyond these is refused
// before any hashing or decryption.
const (
	maxParamLen   = 256
	maxEchoStrLen = 4096
)

// Query holds the signature parameters of a WeChat/WeCom callback URL.
//
// Official accounts and mini-programs send signature, timestamp and nonce on
// every request; in safe and compatible mode they add encrypt_type=aes and
// msg_signature (PROTOCOLS.md §1.1). WeCom app and 微信客服 callbacks carry
// msg_signature, timestamp and nonce only (PROTOCOLS.md §3.1). URL checks
// (GET) add echostr.
type Query struct {
	Signature    string
	MsgSignature string
	Timestamp    string
	Nonce        string
	EchoStr      string
	EncryptType  string
	OpenID       string
}

// Encrypted reports whether the request announces an encrypted body: an
// official account in safe or compatible mode sets encrypt_type=aes, and
// WeCom always signs with msg_signature.
func (q Query) Encrypted() bool {
	return strings.EqualFold(q.EncryptType, "aes") || (q.EncryptType == "" && q.MsgSignature != "")
}

// ParseQuery extracts and checks the signature parameters from a callback
// URL's query. It requires timestamp, nonce and at least one of signature or
// msg_signature, bounds every length, and accepts signatures only as 40 hex
// digits (normalized to lower case).
//
// WeCom documents that echostr must be URL-decoded before use (PROTOCOLS.md
// §3.1); url.Values is already decoded, but a '+' sent unescaped decodes to a
// space, which base64 never contains, so spaces in echostr are turned back
// into '+'.
func ParseQuery(v url.Values) (Query, error) { return parseQueryFrom(v.Get) }

// QueryArgs is a server's own parse of a request's query, each
// parameter's first decoded value (fasthttp's *Args).
type QueryArgs interface{ Peek(key string) []byte }

// ParseRequestQuery is ParseQuery for a server that has parsed the query
// already: raw is the query string as sent, refused (ErrMalformedParam)
// when it does not decode as url.ParseQuery would refuse it (a '%' not
// followed by two hex digits, a ';'), since a lenient server parse would
// take it; the parameters come from args, so nothing is parsed twice.
func ParseRequestQuery(raw []byte, args QueryArgs) (Query, error) {
	if err := checkRawQuery(raw); err != nil {
		return Query{}, fmt.Errorf("parsing callback query: %w", err)
	}
	return parseQueryFrom(func(name string) string { return string(args.Peek(name)) })
}

func checkRawQuery(raw []byte) error {
	for i := 0; i < len(raw); i++ {
		switch raw[i] {
		case ';':
			return fmt.Errorf("%w: query string: a ';' separator", ErrMalformedParam)
		case '%':
			if i+2 >= len(raw) || !isHex(raw[i+1]) || !isHex(raw[i+2]) {
				return fmt.Errorf("%w: query string: a '%%' not followed by two hex digits", ErrMalformedParam)
			}
			i += 2
		}
	}
	return nil
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

// parseQueryFrom is ParseQuery reading each parameter's first decoded
// value through get.
func parseQueryFrom(get func(name string) string) (Query, error) {
	q := Query{
		Signature:    strings.ToLower(get("signature")),
		MsgSignature: strings.ToLower(get("msg_signature")),
		Timestamp:    get("timestamp"),
		Nonce:        get("nonce"),
		EchoStr:      strings.ReplaceAll(get("echostr"), " ", "+"),
		EncryptType:  get("encrypt_type"),
		OpenID:       get("openid"),
	}
	if q.Timestamp == "" {
		return Query{}, fmt.Errorf("parsing callback query: %w: timestamp", ErrMissingParam)
	}
	if q.Nonce == "" {
		return Query{}, fmt.Errorf("parsing callback query: %w: nonce", ErrMissingParam)
	}
	if q.Signature == "" && q.MsgSignature == "" {
		return Query{}, fmt.Errorf("parsing callback query: %w: signature or msg_signature", ErrMissingParam)
	}
	if len(q.Timestamp) > 20 || !allDigits(q.Timestamp) {
		return Query{}, fmt.Errorf("parsing callback query: %w: timestamp is not a decimal number", ErrMalformedParam)
	}
	for _, p := range []struct{ name, value string }{
		{"nonce", q.Nonce}, {"encrypt_type", q.EncryptType}, {"openid", q.OpenID},
	} {
		if len(p.value) > maxParamLen {
			return Query{}, fmt.Errorf("parsing callback query: %w: %s longer than %d bytes", ErrTooLarge, p.name, maxParamLen)
		}
	}
	if len(q.EchoStr) > maxEchoStrLen {
		return Query{}, fmt.Errorf("parsing callback query: %w: echostr longer than %d bytes", ErrTooLarge, maxEchoStrLen)
	}
	for _, p := range []struct{ name, value string }{
		{"signature", q.Signature}, {"msg_signature", q.MsgSignature},
	} {
		if p.value != "" && !isSHA1Hex(p.value) {
			return Query{}, fmt.Errorf("parsing callback query: %w: %s is not 40 hex digits", ErrMalformedParam, p.name)
		}
	}
	return q, nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func isSHA1Hex(s string) bool {
	if len(s) != 40 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
