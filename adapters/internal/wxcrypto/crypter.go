package wxcrypto

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"io"
	"time"

	"github.com/silenceper/wechat/v2/util"
)

// Size limits for encrypted payloads. CONTRACT.md caps callback bodies at
// 1 MiB by default; an Encrypt field cannot be larger than its body.
const (
	// MaxCiphertextLen bounds the base64 text of one Encrypt field.
	MaxCiphertextLen = 1 << 20
	// MaxPlaintextLen bounds what Encrypt accepts.
	MaxPlaintextLen = 768 << 10
)

// Config describes one account's callback security settings.
type Config struct {
	// Token is the callback Token configured on the platform. Required.
	Token string
	// EncodingAESKey is the 43-character key of safe/compatible mode (and of
	// every WeCom callback). Empty for a plain-mode official account or
	// mini-program, in which case encrypted payloads fail with ErrNoAESKey.
	EncodingAESKey string
	// ReceiveID is the id the platform appends to every encrypted payload:
	// the AppID for official accounts and mini-programs, the CorpID for WeCom
	// self-built apps and 微信客服 (PROTOCOLS.md §0). Required with a key.
	ReceiveID string
	// RequireEncryption refuses plain-mode requests when a key is configured,
	// for accounts switched to safe mode that must never accept plaintext.
	RequireEncryption bool
	// MaxSkew is the replay window for the callback timestamp; zero disables
	// the check. Adapters default it to DefaultMaxSkew.
	MaxSkew time.Duration
	// Now is the clock for the timestamp check; nil means time.Now.
	Now func() time.Time
	// Rand supplies the 16 random bytes of each encrypted payload and reply
	// nonces; nil means crypto/rand. Tests set it for reproducible output.
	Rand io.Reader
}

// Crypter verifies, decrypts and encrypts one account's callbacks. It is
// safe for concurrent use.
type Crypter struct {
	token             string
	key               []byte
	receiveID         []byte
	requireEncryption bool
	maxSkew           time.Duration
	now               func() time.Time
	rand              io.Reader
}

// New validates cfg and returns a Crypter. Errors name the faulty setting and
// never include a secret.
func New(cfg Config) (*Crypter, error) {
	if cfg.Token == "" {
		return nil, fmt.Errorf("creating crypter: %w: token is empty", ErrInvalidConfig)
	}
	c := &Crypter{
		token:             cfg.Token,
		requireEncryption: cfg.RequireEncryption,
		maxSkew:           cfg.MaxSkew,
		now:               cfg.Now,
		rand:              cfg.Rand,
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.rand == nil {
		c.rand = rand.Reader
	}
	if cfg.EncodingAESKey != "" {
		key, err := ParseAESKey(cfg.EncodingAESKey)
		if err != nil {
			return nil, fmt.Errorf("creating crypter: %w", err)
		}
		if cfg.ReceiveID == "" {
			return nil, fmt.Errorf("creating crypter: %w: receive id (AppID or CorpID) is empty", ErrInvalidConfig)
		}
		c.key = key
		c.receiveID = []byte(cfg.ReceiveID)
	} else if cfg.RequireEncryption {
		return nil, fmt.Errorf("creating crypter: %w: encryption required but no EncodingAESKey", ErrInvalidConfig)
	}
	return c, nil
}

// HasKey reports whether the account has an EncodingAESKey.
func (c *Crypter) HasKey() bool { return c.key != nil }

// checkFresh applies the configured replay window to a query timestamp.
func (c *Crypter) checkFresh(timestamp string) error {
	return CheckTimestamp(timestamp, c.now(), c.maxSkew)
}

// VerifyPlain checks the plain signature of q and its timestamp's freshness.
func (c *Crypter) VerifyPlain(q Query) error {
	if q.Signature == "" {
		return fmt.Errorf("verifying signature: %w: signature", ErrMissingParam)
	}
	if err := VerifySignature(c.token, q.Timestamp, q.Nonce, q.Signature); err != nil {
		return err
	}
	return c.checkFresh(q.Timestamp)
}

// VerifyEcho answers an official-account or mini-program URL check: it
// verifies the plain signature and returns echostr to be written back
// verbatim. In safe mode the check is still plain (PROTOCOLS.md §1.1).
func (c *Crypter) VerifyEcho(q Query) (string, error) {
	if err := c.VerifyPlain(q); err != nil {
		return "", err
	}
	if q.EchoStr == "" {
		return "", fmt.Errorf("verifying URL: %w: echostr", ErrMissingParam)
	}
	return q.EchoStr, nil
}

// OpenEcho answers a WeCom app or 微信客服 URL check: it verifies
// msg_signature over the encrypted echostr, decrypts it and returns the
// plaintext, which must be written back with no quotes, BOM or newline
// (PROTOCOLS.md §3.1).
func (c *Crypter) OpenEcho(q Query) ([]byte, error) {
	if q.EchoStr == "" {
		return nil, fmt.Errorf("verifying URL: %w: echostr", ErrMissingParam)
	}
	return c.Open(q, q.EchoStr)
}

// Open verifies msg_signature over encrypt, checks the timestamp, then
// decrypts encrypt and checks its receive id. Nothing is decrypted unless
// the signature matches.
func (c *Crypter) Open(q Query, encrypt string) ([]byte, error) {
	if q.MsgSignature == "" {
		return nil, fmt.Errorf("verifying msg_signature: %w: msg_signature", ErrMissingParam)
	}
	if c.key == nil {
		return nil, fmt.Errorf("opening encrypted payload: %w", ErrNoAESKey)
	}
	if len(encrypt) > MaxCiphertextLen {
		return nil, fmt.Errorf("opening encrypted payload: %w: %d bytes of ciphertext", ErrTooLarge, len(encrypt))
	}
	if err := VerifyMsgSignature(c.token, q.Timestamp, q.Nonce, encrypt, q.MsgSignature); err != nil {
		return nil, err
	}
	if err := c.checkFresh(q.Timestamp); err != nil {
		return nil, err
	}
	return c.decrypt(encrypt)
}

// decrypt decodes and decrypts one Encrypt value and checks its receive id.
// Callers must have verified the signature.
func (c *Crypter) decrypt(encrypt string) ([]byte, error) {
	ciphertext, err := base64.StdEncoding.DecodeString(encrypt)
	if err != nil {
		return nil, fmt.Errorf("decrypting payload: %w: not standard base64", ErrMalformedCiphertext)
	}
	// util.AESDecryptMsg checks block alignment, the pad byte range (1..32)
	// and the length prefix against the buffer before slicing.
	_, msg, receiveID, err := util.AESDecryptMsg(ciphertext, c.key)
	if err != nil {
		return nil, fmt.Errorf("decrypting payload: %w: %v", ErrMalformedCiphertext, err)
	}
	if subtle.ConstantTimeCompare(receiveID, c.receiveID) != 1 {
		return nil, fmt.Errorf("decrypting payload: %w", ErrReceiveIDMismatch)
	}
	return msg, nil
}

// Encrypt frames msg as random(16) | len(4) | msg | receiveid, encrypts it
// with AES-256-CBC and returns the base64 text for an Encrypt field.
func (c *Crypter) Encrypt(msg []byte) (string, error) {
	if c.key == nil {
		return "", fmt.Errorf("encrypting payload: %w", ErrNoAESKey)
	}
	if len(msg) > MaxPlaintextLen {
		return "", fmt.Errorf("encrypting payload: %w: %d bytes", ErrTooLarge, len(msg))
	}
	var random [16]byte
	if _, err := io.ReadFull(c.rand, random[:]); err != nil {
		return "", fmt.Errorf("encrypting payload: reading random bytes: %w", err)
	}
	// The key length was validated in New, so AESEncryptMsg cannot panic.
	ciphertext := util.AESEncryptMsg(random[:], msg, string(c.receiveID), c.key)
	return base64.StdEncoding.EncodeToString(ciphertext), nil
}

// Seal encrypts a passive reply and signs it with a fresh nonce and the
// given time, ready to be rendered with ReplyEnvelope.XML or JSON
// (PROTOCOLS.md §1.1 "Encrypted passive reply body", §3.1).
func (c *Crypter) Seal(reply []byte, now time.Time) (ReplyEnvelope, error) {
	encrypt, err := c.Encrypt(reply)
	if err != nil {
		return ReplyEnvelope{}, fmt.Errorf("sealing reply: %w", err)
	}
	nonce, err := c.nonce()
	if err != nil {
		return ReplyEnvelope{}, fmt.Errorf("sealing reply: %w", err)
	}
	ts := now.Unix()
	return ReplyEnvelope{
		Encrypt:      encrypt,
		MsgSignature: Signature(c.token, formatInt(ts), nonce, encrypt),
		TimeStamp:    ts,
		Nonce:        nonce,
	}, nil
}

// nonce returns ten random decimal digits, the shape WeChat uses.
func (c *Crypter) nonce() (string, error) {
	var b [10]byte
	if _, err := io.ReadFull(c.rand, b[:]); err != nil {
		return "", fmt.Errorf("reading random nonce: %w", err)
	}
	for i := range b {
		b[i] = '0' + b[i]%10
	}
	if b[0] == '0' {
		b[0] = '1'
	}
	return string(b[:]), nil
}
