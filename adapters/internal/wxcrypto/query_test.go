package wxcrypto

import (
	"errors"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

func TestParseQuery(t *testing.T) {
	sig := "f464b24fc39322e44b38aa78f5edd27bd1441696"
	tests := []struct {
		name string
		raw  string
		want error
		enc  bool
	}{
		{"plain", "signature=" + sig + "&timestamp=1714036504&nonce=1514711492", nil, false},
		{"safe mode", "signature=" + sig + "&timestamp=1&nonce=2&encrypt_type=aes&msg_signature=" + sig + "&openid=o1", nil, true},
		{"wecom", "msg_signature=" + sig + "&timestamp=1&nonce=2", nil, true},
		{"upper-case hex accepted", "signature=" + strings.ToUpper(sig) + "&timestamp=1&nonce=2", nil, false},
		{"no timestamp", "signature=" + sig + "&nonce=2", ErrMissingParam, false},
		{"no nonce", "signature=" + sig + "&timestamp=1", ErrMissingParam, false},
		{"no signature", "timestamp=1&nonce=2", ErrMissingParam, false},
		{"timestamp not a number", "signature=" + sig + "&timestamp=1e9&nonce=2", ErrMalformedParam, false},
		{"short signature", "signature=abc&timestamp=1&nonce=2", ErrMalformedParam, false},
		{"non-hex signature", "signature=" + strings.Repeat("z", 40) + "&timestamp=1&nonce=2", ErrMalformedParam, false},
		{"huge nonce", "signature=" + sig + "&timestamp=1&nonce=" + strings.Repeat("9", 300), ErrTooLarge, false},
		{"huge echostr", "signature=" + sig + "&timestamp=1&nonce=2&echostr=" + strings.Repeat("A", 5000), ErrTooLarge, false},
		{"undecodable", "signature=" + sig + "&timestamp=1&nonce=%zz", ErrMalformedParam, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, err := parseRaw(tt.raw)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("ParseRequestQuery = %v, want %v", err, tt.want)
			}
			if err == nil && q.Encrypted() != tt.enc {
				t.Fatalf("Encrypted = %v, want %v", q.Encrypted(), tt.enc)
			}
		})
	}
}

// parseRaw is ParseRequestQuery as a fasthttp server calls it.
func parseRaw(raw string) (Query, error) {
	var args fasthttp.Args
	args.Parse(raw)
	return ParseRequestQuery([]byte(raw), &args)
}
