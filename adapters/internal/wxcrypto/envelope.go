package wxcrypto

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"strconv"
)

// MaxBodyLen bounds a callback body handled here, matching the default body
// limit of CONTRACT.md (1 MiB).
const MaxBodyLen = 1 << 20

// Format is the wire format of a callback body. Official accounts and WeCom
// use XML only; mini-programs are configured for XML or JSON (PROTOCOLS.md
// §1.1, §2).
type Format int

// Callback body formats.
const (
	FormatXML Format = iota
	FormatJSON
)

// String returns "xml" or "json".
func (f Format) String() string {
	if f == FormatJSON {
		return "json"
	}
	return "xml"
}

// Envelope is the outer body of an encrypted push:
// <xml><ToUserName/><Encrypt/></xml> for official accounts and mini-programs,
// plus <AgentID/> for WeCom apps, or the same keys in JSON (PROTOCOLS.md §1.1,
// §2, §3.1). In compatible mode the plaintext fields travel beside Encrypt;
// they are ignored here.
type Envelope struct {
	ToUserName string `xml:"ToUserName" json:"ToUserName"`
	Encrypt    string `xml:"Encrypt" json:"Encrypt"`
	AgentID    string `xml:"AgentID" json:"AgentID"`
}

// ParseEnvelope decodes the outer body of an encrypted push and requires a
// non-empty Encrypt field.
func ParseEnvelope(body []byte, format Format) (Envelope, error) {
	var env Envelope
	if err := decodeBody(body, format, &env); err != nil {
		return Envelope{}, fmt.Errorf("parsing encrypted envelope: %w", err)
	}
	if env.Encrypt == "" {
		return Envelope{}, fmt.Errorf("parsing encrypted envelope: %w: no Encrypt field", ErrMalformedEnvelope)
	}
	return env, nil
}

// decodeBody decodes an XML or JSON body of at most MaxBodyLen bytes. JSON
// numbers are tolerated for the AgentID string field by the caller's types.
func decodeBody(body []byte, format Format, v any) error {
	if len(body) > MaxBodyLen {
		return fmt.Errorf("%w: body of %d bytes", ErrTooLarge, len(body))
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return fmt.Errorf("%w: empty body", ErrMalformedEnvelope)
	}
	var err error
	if format == FormatJSON {
		err = json.Unmarshal(body, v)
	} else {
		err = xml.Unmarshal(body, v)
	}
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrMalformedEnvelope, format, err)
	}
	return nil
}

// Opened is a verified callback body.
type Opened struct {
	// Plain is the plaintext message (the decrypted payload, or the body
	// itself in plain mode).
	Plain []byte
	// Encrypted reports whether the body was encrypted; the passive reply
	// must then be encrypted too.
	Encrypted bool
}

// OpenRequest verifies a POSTed callback and returns its plaintext. When the
// query announces encryption (encrypt_type=aes, or a WeCom msg_signature) the
// body's Encrypt field is verified with msg_signature and decrypted;
// otherwise the plain signature is verified and the body returned as is
// (unless the account requires encryption).
func (c *Crypter) OpenRequest(q Query, body []byte, format Format) (Opened, error) {
	if !q.Encrypted() {
		if c.requireEncryption {
			return Opened{}, fmt.Errorf("opening callback: %w: plain request to an account that requires encryption", ErrSignatureMismatch)
		}
		if err := c.VerifyPlain(q); err != nil {
			return Opened{}, fmt.Errorf("opening callback: %w", err)
		}
		if len(body) > MaxBodyLen {
			return Opened{}, fmt.Errorf("opening callback: %w: body of %d bytes", ErrTooLarge, len(body))
		}
		return Opened{Plain: body}, nil
	}
	env, err := ParseEnvelope(body, format)
	if err != nil {
		return Opened{}, fmt.Errorf("opening callback: %w", err)
	}
	plain, err := c.Open(q, env.Encrypt)
	if err != nil {
		return Opened{}, fmt.Errorf("opening callback: %w", err)
	}
	return Opened{Plain: plain, Encrypted: true}, nil
}

// ReplyEnvelope is an encrypted passive reply: Encrypt, MsgSignature over
// (token, TimeStamp, Nonce, Encrypt), TimeStamp and Nonce (PROTOCOLS.md §1.1,
// §2, §3.1).
type ReplyEnvelope struct {
	Encrypt      string `xml:"Encrypt" json:"Encrypt"`
	MsgSignature string `xml:"MsgSignature" json:"MsgSignature"`
	TimeStamp    int64  `xml:"TimeStamp" json:"TimeStamp"`
	Nonce        string `xml:"Nonce" json:"Nonce"`
}

// XML renders the envelope as
// <xml><Encrypt/><MsgSignature/><TimeStamp/><Nonce/></xml>. The values are
// base64, hex and digits produced by Seal, so CDATA sections are safe.
func (e ReplyEnvelope) XML() []byte {
	b := make([]byte, 0, len(e.Encrypt)+192)
	b = append(b, "<xml><Encrypt><![CDATA["...)
	b = append(b, e.Encrypt...)
	b = append(b, "]]></Encrypt><MsgSignature><![CDATA["...)
	b = append(b, e.MsgSignature...)
	b = append(b, "]]></MsgSignature><TimeStamp>"...)
	b = strconv.AppendInt(b, e.TimeStamp, 10)
	b = append(b, "</TimeStamp><Nonce><![CDATA["...)
	b = append(b, e.Nonce...)
	b = append(b, "]]></Nonce></xml>"...)
	return b
}

// JSON renders the envelope as {"Encrypt","MsgSignature","TimeStamp","Nonce"},
// the form of a mini-program configured for JSON.
func (e ReplyEnvelope) JSON() []byte {
	b, _ := json.Marshal(e) // strings and an int64 always marshal.
	return b
}

// Render renders the envelope in the given format.
func (e ReplyEnvelope) Render(format Format) []byte {
	if format == FormatJSON {
		return e.JSON()
	}
	return e.XML()
}

// OpenReply verifies and decrypts an encrypted passive reply as the platform
// would. Tests use it to read what an adapter answered.
func (c *Crypter) OpenReply(body []byte, format Format) ([]byte, error) {
	var env ReplyEnvelope
	if err := decodeBody(body, format, &env); err != nil {
		return nil, fmt.Errorf("opening reply: %w", err)
	}
	if env.Encrypt == "" {
		return nil, fmt.Errorf("opening reply: %w: no Encrypt field", ErrMalformedEnvelope)
	}
	q := Query{Timestamp: formatInt(env.TimeStamp), Nonce: env.Nonce, MsgSignature: env.MsgSignature}
	if c.key == nil {
		return nil, fmt.Errorf("opening reply: %w", ErrNoAESKey)
	}
	if err := VerifyMsgSignature(c.token, q.Timestamp, q.Nonce, env.Encrypt, q.MsgSignature); err != nil {
		return nil, fmt.Errorf("opening reply: %w", err)
	}
	plain, err := c.decrypt(env.Encrypt)
	if err != nil {
		return nil, fmt.Errorf("opening reply: %w", err)
	}
	return plain, nil
}

func formatInt(v int64) string { return strconv.FormatInt(v, 10) }
