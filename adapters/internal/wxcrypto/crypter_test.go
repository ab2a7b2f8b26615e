package wxcrypto

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"flag"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

// seqReader yields 0, 1, 2, ... so sealed output is reproducible.
type seqReader struct{ n byte }

func (r *seqReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = r.n
		r.n++
	}
	return len(p), nil
}

const (
	testAppID  = "wx0123456789abcdef"
	testToken  = "kefutoken"
	testAESKey = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
)

func goldenCrypter(t testing.TB) *Crypter {
	t.Helper()
	c, err := New(Config{Token: testToken, EncodingAESKey: testAESKey, ReceiveID: testAppID, Rand: &seqReader{}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// rawCBC encrypts an arbitrary, already padded plaintext with the key's
// AES-256-CBC, so tests can craft malformed payloads.
func rawCBC(t testing.TB, c *Crypter, plaintext []byte) string {
	t.Helper()
	block, err := aes.NewCipher(c.key)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]byte, len(plaintext))
	cipher.NewCBCEncrypter(block, c.key[:16]).CryptBlocks(out, plaintext)
	return base64.StdEncoding.EncodeToString(out)
}

func rawCBCDecrypt(t testing.TB, c *Crypter, encrypt string) []byte {
	t.Helper()
	ct, err := base64.StdEncoding.DecodeString(encrypt)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := aes.NewCipher(c.key)
	out := make([]byte, len(ct))
	cipher.NewCBCDecrypter(block, c.key[:16]).CryptBlocks(out, ct)
	return out
}

// signedQuery returns a query whose msg_signature covers encrypt.
func signedQuery(token, encrypt string) Query {
	ts, nonce := "1700000000", "123456"
	return Query{Timestamp: ts, Nonce: nonce, MsgSignature: Signature(token, ts, nonce, encrypt), EncryptType: "aes"}
}

func TestRoundTripEveryPadLength(t *testing.T) {
	c := goldenCrypter(t)
	// 20 + len(msg) + len(receiveid) covers every residue modulo 32 twice.
	for n := 0; n < 70; n++ {
		msg := bytes.Repeat([]byte{'x'}, n)
		enc, err := c.Encrypt(msg)
		if err != nil {
			t.Fatal(err)
		}
		raw := rawCBCDecrypt(t, c, enc)
		content := 20 + n + len(testAppID)
		wantPad := 32 - content%32
		if len(raw) != content+wantPad {
			t.Fatalf("n=%d: ciphertext of %d bytes, want %d", n, len(raw), content+wantPad)
		}
		for _, b := range raw[content:] {
			if int(b) != wantPad {
				t.Fatalf("n=%d: pad byte %d, want %d", n, b, wantPad)
			}
		}
		if got := binary.BigEndian.Uint32(raw[16:20]); int(got) != n {
			t.Fatalf("n=%d: length prefix %d", n, got)
		}
		got, err := c.Open(signedQuery(testToken, enc), enc)
		if err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("n=%d: Open = %q, %v", n, got, err)
		}
	}
}

// TestFullBlockPadding covers PKCS#7 with K=32 when the content is already
// block aligned: a whole 32-byte block of 0x20 is appended (PROTOCOLS.md §0).
func TestFullBlockPadding(t *testing.T) {
	c := goldenCrypter(t)
	n := 64 - 20 - len(testAppID) // 20 + n + len(appid) == 64
	msg := []byte(strings.Repeat("y", n))
	enc, err := c.Encrypt(msg)
	if err != nil {
		t.Fatal(err)
	}
	raw := rawCBCDecrypt(t, c, enc)
	if len(raw) != 96 || !bytes.Equal(raw[64:], bytes.Repeat([]byte{32}, 32)) {
		t.Fatalf("aligned content not padded with a full block: len %d tail %v", len(raw), raw[64:])
	}
	got, err := c.Open(signedQuery(testToken, enc), enc)
	if err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("Open = %q, %v", got, err)
	}
}

func TestOpenRejectsMalformedCiphertext(t *testing.T) {
	c := goldenCrypter(t)
	frame := func(msgLen uint32, body string, pad byte, padLen int) []byte {
		b := make([]byte, 20, 128)
		binary.BigEndian.PutUint32(b[16:20], msgLen)
		b = append(b, body...)
		b = append(b, testAppID...)
		return append(b, bytes.Repeat([]byte{pad}, padLen)...)
	}
	aligned := func(msgLen uint32, body string, pad byte) []byte {
		content := 20 + len(body) + len(testAppID)
		n := 32 - content%32
		return frame(msgLen, body, pad, n)
	}
	tests := []struct {
		name    string
		encrypt string
		want    error
	}{
		{"not base64", "%%%not-base64%%%", ErrMalformedCiphertext},
		{"shorter than a block", base64.StdEncoding.EncodeToString(make([]byte, 16)), ErrMalformedCiphertext},
		{"not block aligned", base64.StdEncoding.EncodeToString(make([]byte, 40)), ErrMalformedCiphertext},
		{"pad byte zero", rawCBC(t, c, aligned(2, "hi", 0)), ErrMalformedCiphertext},
		{"pad byte over 32", rawCBC(t, c, aligned(2, "hi", 33)), ErrMalformedCiphertext},
		{"length prefix past the end", rawCBC(t, c, aligned(1000, "hi", byte(32-(20+2+len(testAppID))%32))), ErrMalformedCiphertext},
		{"foreign receive id", func() string {
			b := make([]byte, 20)
			b = append(b, "hi"...)
			b = append(b, "wxattacker0000000"...)
			n := 32 - len(b)%32
			return rawCBC(t, c, append(b, bytes.Repeat([]byte{byte(n)}, n)...))
		}(), ErrReceiveIDMismatch},
		{"too large", strings.Repeat("A", MaxCiphertextLen+4), ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.Open(signedQuery(testToken, tt.encrypt), tt.encrypt)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Open = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestNewValidatesConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want error
	}{
		{"no token", Config{EncodingAESKey: testAESKey, ReceiveID: testAppID}, ErrInvalidConfig},
		{"key without receive id", Config{Token: "t", EncodingAESKey: testAESKey}, ErrInvalidConfig},
		{"short key", Config{Token: "t", EncodingAESKey: testAESKey[:42], ReceiveID: testAppID}, ErrInvalidAESKey},
		{"bad key char", Config{Token: "t", EncodingAESKey: "+" + testAESKey[1:], ReceiveID: testAppID}, ErrInvalidAESKey},
		{"encryption required without key", Config{Token: "t", RequireEncryption: true}, ErrInvalidConfig},
		{"plain mode", Config{Token: "t"}, nil},
		{"safe mode", Config{Token: "t", EncodingAESKey: testAESKey, ReceiveID: testAppID}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("New = %v, want %v", err, tt.want)
			}
			if err != nil && tt.cfg.EncodingAESKey != "" && strings.Contains(err.Error(), tt.cfg.EncodingAESKey) {
				t.Fatalf("error leaks the key: %v", err)
			}
		})
	}
}

func TestParseAESKey(t *testing.T) {
	tests := []struct {
		name, key string
		wantErr   string
	}{
		{"valid", testAESKey, ""},
		{"official sample", vecAESKey, ""},
		{"empty", "", "must be 43 characters, got 0"},
		{"44 characters", testAESKey + "=", "must be 43 characters, got 44"},
		{"slash", testAESKey[:10] + "/" + testAESKey[11:], "character 11 is not in [A-Za-z0-9]"},
		{"non-ASCII", "é" + testAESKey[2:], "character 1 is not in [A-Za-z0-9]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key, err := ParseAESKey(tt.key)
			if tt.wantErr == "" {
				if err != nil || len(key) != 32 {
					t.Fatalf("ParseAESKey = %d bytes, %v", len(key), err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidAESKey) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("ParseAESKey = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestOpenRequestPlainAndModes(t *testing.T) {
	now := time.Unix(1700000000, 0)
	plainBody := []byte("<xml><MsgType><![CDATA[text]]></MsgType></xml>")
	plainQuery := Query{Timestamp: "1700000000", Nonce: "42", Signature: Signature(testToken, "1700000000", "42")}

	t.Run("plain mode verifies signature", func(t *testing.T) {
		c, _ := New(Config{Token: testToken})
		got, err := c.OpenRequest(plainQuery, plainBody, FormatXML)
		if err != nil || got.Encrypted || !bytes.Equal(got.Plain, plainBody) {
			t.Fatalf("OpenRequest = %+v, %v", got, err)
		}
		bad := plainQuery
		bad.Signature = strings.Repeat("0", 40)
		if _, err := c.OpenRequest(bad, plainBody, FormatXML); !errors.Is(err, ErrSignatureMismatch) {
			t.Fatalf("OpenRequest(bad signature) = %v", err)
		}
	})
	t.Run("encrypted body without key", func(t *testing.T) {
		c, _ := New(Config{Token: testToken})
		q := signedQuery(testToken, "abc")
		if _, err := c.OpenRequest(q, []byte("<xml><Encrypt>abc</Encrypt></xml>"), FormatXML); !errors.Is(err, ErrNoAESKey) {
			t.Fatalf("OpenRequest = %v, want ErrNoAESKey", err)
		}
	})
	t.Run("require encryption refuses plain", func(t *testing.T) {
		c, _ := New(Config{Token: testToken, EncodingAESKey: testAESKey, ReceiveID: testAppID, RequireEncryption: true})
		if _, err := c.OpenRequest(plainQuery, plainBody, FormatXML); !errors.Is(err, ErrSignatureMismatch) {
			t.Fatalf("OpenRequest = %v", err)
		}
	})
	t.Run("JSON envelope", func(t *testing.T) {
		c := goldenCrypter(t)
		enc, _ := c.Encrypt([]byte(`{"MsgType":"text"}`))
		body := []byte(`{"ToUserName":"gh_1","Encrypt":"` + enc + `"}`)
		got, err := c.OpenRequest(signedQuery(testToken, enc), body, FormatJSON)
		if err != nil || !got.Encrypted || string(got.Plain) != `{"MsgType":"text"}` {
			t.Fatalf("OpenRequest = %+v, %v", got, err)
		}
	})
	t.Run("envelope without Encrypt", func(t *testing.T) {
		c := goldenCrypter(t)
		for _, body := range []string{"<xml><ToUserName>x</ToUserName></xml>", "", "<xml", "{}"} {
			format := FormatXML
			if strings.HasPrefix(body, "{") {
				format = FormatJSON
			}
			if _, err := c.OpenRequest(signedQuery(testToken, ""), []byte(body), format); !errors.Is(err, ErrMalformedEnvelope) {
				t.Fatalf("OpenRequest(%q) = %v, want ErrMalformedEnvelope", body, err)
			}
		}
	})
	t.Run("stale timestamp", func(t *testing.T) {
		c, _ := New(Config{Token: testToken, MaxSkew: time.Minute, Now: func() time.Time { return now.Add(2 * time.Minute) }})
		if _, err := c.OpenRequest(plainQuery, plainBody, FormatXML); !errors.Is(err, ErrStaleTimestamp) || !IsAuthFailure(err) {
			t.Fatalf("OpenRequest = %v, want ErrStaleTimestamp", err)
		}
		c, _ = New(Config{Token: testToken, MaxSkew: time.Minute, Now: func() time.Time { return now.Add(59 * time.Second) }})
		if _, err := c.OpenRequest(plainQuery, plainBody, FormatXML); err != nil {
			t.Fatalf("OpenRequest(inside window) = %v", err)
		}
	})
}

func TestVerifyEcho(t *testing.T) {
	c, _ := New(Config{Token: "AAAAA"})
	q := Query{Timestamp: "1714036504", Nonce: "1514711492", Signature: "f464b24fc39322e44b38aa78f5edd27bd1441696", EchoStr: "hello-echo"}
	if got, err := c.VerifyEcho(q); err != nil || got != "hello-echo" {
		t.Fatalf("VerifyEcho = %q, %v", got, err)
	}
	q.EchoStr = ""
	if _, err := c.VerifyEcho(q); !errors.Is(err, ErrMissingParam) {
		t.Fatalf("VerifyEcho(no echostr) = %v", err)
	}
}

func TestCheckTimestamp(t *testing.T) {
	now := time.Unix(1700000000, 0)
	tests := []struct {
		ts   string
		skew time.Duration
		want error
	}{
		{"1700000000", time.Minute, nil},
		{"1699999940", time.Minute, nil},
		{"1700000060", time.Minute, nil},
		{"1699999939", time.Minute, ErrStaleTimestamp},
		{"1700000061", time.Minute, ErrStaleTimestamp},
		// Over 292 years ahead, now.Sub saturates: negating that overflowed
		// back to a negative skew, which passed. (The int64 extremes below
		// were refused before too: time.Unix wraps the first into the past.)
		{"11170000000", time.Minute, ErrStaleTimestamp},
		{"9223372036854775807", time.Minute, ErrStaleTimestamp},
		{"-9223372036854775808", time.Minute, ErrStaleTimestamp},
		{"1", 0, nil}, // disabled
		{"abc", time.Minute, ErrMalformedParam},
	}
	for _, tt := range tests {
		if err := CheckTimestamp(tt.ts, now, tt.skew); !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
			t.Errorf("CheckTimestamp(%s, %s) = %v, want %v", tt.ts, tt.skew, err, tt.want)
		}
	}
}

// TestGoldenReplies pins the sealed reply envelope, XML and JSON, for a fixed
// key and random source: any change in framing, padding or signing shows as
// a diff against testdata.
func TestGoldenReplies(t *testing.T) {
	reply := []byte("<xml><ToUserName><![CDATA[oUser]]></ToUserName><FromUserName><![CDATA[gh_kefu]]></FromUserName><CreateTime>1700000000</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[你好]]></Content></xml>")
	for _, format := range []Format{FormatXML, FormatJSON} {
		t.Run(format.String(), func(t *testing.T) {
			c := goldenCrypter(t)
			env, err := c.Seal(reply, time.Unix(1700000000, 0))
			if err != nil {
				t.Fatal(err)
			}
			got := env.Render(format)
			path := "testdata/golden_reply." + format.String()
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("sealed reply differs from %s:\n got %s\nwant %s", path, got, want)
			}
			plain, err := goldenCrypter(t).OpenReply(want, format)
			if err != nil || !bytes.Equal(plain, reply) {
				t.Fatalf("OpenReply = %q, %v", plain, err)
			}
			if env.TimeStamp != 1700000000 || len(env.Nonce) != 10 {
				t.Fatalf("envelope timestamp %d nonce %q", env.TimeStamp, env.Nonce)
			}
			if _, err := strconv.ParseUint(env.Nonce, 10, 64); err != nil {
				t.Fatalf("nonce %q is not decimal", env.Nonce)
			}
		})
	}
	// A reply signed with another token is refused.
	c := goldenCrypter(t)
	env, _ := c.Seal(reply, time.Unix(1700000000, 0))
	other, _ := New(Config{Token: "other", EncodingAESKey: testAESKey, ReceiveID: testAppID})
	if _, err := other.OpenReply(env.XML(), FormatXML); !errors.Is(err, ErrSignatureMismatch) {
		t.Fatalf("OpenReply(other token) = %v", err)
	}
}

func TestEncryptLimits(t *testing.T) {
	c := goldenCrypter(t)
	if _, err := c.Encrypt(make([]byte, MaxPlaintextLen+1)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Encrypt(too large) = %v", err)
	}
	plain, _ := New(Config{Token: "t"})
	if _, err := plain.Encrypt([]byte("x")); !errors.Is(err, ErrNoAESKey) {
		t.Fatalf("Encrypt(no key) = %v", err)
	}
	if _, err := plain.Seal([]byte("x"), time.Now()); !errors.Is(err, ErrNoAESKey) {
		t.Fatalf("Seal(no key) = %v", err)
	}
}
