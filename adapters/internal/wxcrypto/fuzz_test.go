package wxcrypto

import (
	"bytes"
	"errors"
	"net/url"
	"os"
	"testing"
)

// FuzzOpen feeds arbitrary Encrypt values with a matching msg_signature, so
// the fuzzer reaches base64 decoding, AES-CBC, unpadding and framing. Open
// must never panic, and whatever it accepts must re-encrypt to itself.
func FuzzOpen(f *testing.F) {
	c := goldenCrypter(f)
	for _, msg := range []string{"", "a", "<xml><MsgType>text</MsgType></xml>", string(bytes.Repeat([]byte("z"), 26))} {
		enc, err := c.Encrypt([]byte(msg))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(enc)
	}
	f.Add(vecEchoStr)
	f.Add("")
	f.Add("====")
	f.Fuzz(func(t *testing.T, encrypt string) {
		got, err := c.Open(signedQuery(testToken, encrypt), encrypt)
		if err != nil {
			return
		}
		again, err := c.Encrypt(got)
		if err != nil {
			t.Fatalf("re-encrypting accepted plaintext: %v", err)
		}
		back, err := c.Open(signedQuery(testToken, again), again)
		if err != nil || !bytes.Equal(back, got) {
			t.Fatalf("round trip of accepted plaintext failed: %v", err)
		}
	})
}

// FuzzParseQuery checks that any query string either parses into bounded,
// well-formed parameters or fails cleanly, and that verification of whatever
// parses never panics.
func FuzzParseQuery(f *testing.F) {
	f.Add("signature=f464b24fc39322e44b38aa78f5edd27bd1441696&timestamp=1714036504&nonce=1514711492")
	f.Add("msg_signature=5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3&timestamp=1409659589&nonce=263014780&echostr=P9nAzCzyDtyTWESHep1vC5X9xho%2FqYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp%2B4RPcs8TgAE7OaBO%2BFZXvnaqQ%3D%3D")
	f.Add("encrypt_type=aes&timestamp=&nonce=%zz")
	c := vectorCrypter(f, vecCorpID)
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		q, err := ParseQuery(v)
		if err != nil {
			return
		}
		if len(q.Nonce) > maxParamLen || len(q.EchoStr) > maxEchoStrLen || !allDigits(q.Timestamp) {
			t.Fatalf("ParseQuery accepted out-of-bounds values: %+v", q)
		}
		_ = c.VerifyPlain(q)
		_, _ = c.OpenEcho(q)
	})
}

// FuzzParseRequestQuery checks that reading a query through a server's
// own parse (ParseRequestQuery on fasthttp's arguments) refuses exactly
// the query strings url.ParseQuery refuses and otherwise reads the same
// parameters as ParseQuery, so every callback answers alike however its
// server parses.
func FuzzParseRequestQuery(f *testing.F) {
	for _, raw := range []string{"a=1&b=2", "nonce=%zz", "a=%4", "a=%41", "a=1;b=2", "%", "a=%%41", "echostr=a+b%2B%3d",
		"signature=f464b24fc39322e44b38aa78f5edd27bd1441696&timestamp=1714036504&nonce=1514711492&nonce=2"} {
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got, gotErr := parseRaw(raw)
		v, parseErr := url.ParseQuery(raw)
		if parseErr != nil {
			if !errors.Is(gotErr, ErrMalformedParam) {
				t.Fatalf("%q: url.ParseQuery says %v, ParseRequestQuery %v", raw, parseErr, gotErr)
			}
			return
		}
		want, wantErr := ParseQuery(v)
		if got != want || (gotErr == nil) != (wantErr == nil) {
			t.Fatalf("%q: ParseRequestQuery %+v, %v; ParseQuery %+v, %v", raw, got, gotErr, want, wantErr)
		}
	})
}

// FuzzOpenRequest drives the whole request path (envelope parsing, signature,
// decryption) with arbitrary bodies in both formats.
func FuzzOpenRequest(f *testing.F) {
	body, err := os.ReadFile("testdata/wecom_official_post.xml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(body, false)
	f.Add([]byte(`{"Encrypt":"abc"}`), true)
	f.Add([]byte(`<xml><Encrypt><![CDATA[]]></Encrypt></xml>`), false)
	c := vectorCrypter(f, vecCorpID)
	f.Fuzz(func(t *testing.T, body []byte, json bool) {
		format := FormatXML
		if json {
			format = FormatJSON
		}
		env, err := ParseEnvelope(body, format)
		if err != nil {
			return
		}
		_, _ = c.OpenRequest(signedQuery(vecToken, env.Encrypt), body, format)
	})
}
