package wxaccount

import (
	"errors"
	"net/http"

	"github.com/gofiber/fiber/v2"
	"github.com/kefu-gateway/kefu/adapters/internal/wxcrypto"
	"github.com/kefu-gateway/kefu/adapters/internal/wxmsg"
)

// RequestError is a callback request kefu refuses, with the HTTP status to
// answer (CONTRACT.md "HTTP endpoints"): 401 when it is not authentic
// (bad or missing signature, foreign AppID, stale timestamp), 400 when it is
// malformed or does not match the account's mode, 413 when it is too large.
type RequestError struct {
	Status int
	Err    error
}

func (e *RequestError) Error() string { return e.Err.Error() }
func (e *RequestError) Unwrap() error { return e.Err }

// StatusOf returns the HTTP status for an error of ParseQuery, Open or the
// wxmsg parsers; 500 for anything else.
func StatusOf(err error) int {
	var re *RequestError
	switch {
	case errors.As(err, &re):
		return re.Status
	case wxcrypto.IsAuthFailure(err), errors.Is(err, wxcrypto.ErrMissingParam):
		// A request without its signature parameters is as unauthenticated
		// as one with a wrong signature.
		return http.StatusUnauthorized
	case errors.Is(err, wxcrypto.ErrTooLarge), errors.Is(err, wxmsg.ErrTooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, wxcrypto.ErrMalformedParam), errors.Is(err, wxcrypto.ErrMalformedCiphertext),
		errors.Is(err, wxcrypto.ErrMalformedEnvelope), errors.Is(err, wxcrypto.ErrNoAESKey),
		errors.Is(err, wxmsg.ErrMalformed), errors.Is(err, wxmsg.ErrMissingField):
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

// ParseQuery reads the signature parameters of a callback request; every
// WeChat-family channel's fiber callback (OA, mini-program, WeCom app,
// 微信客服) reads them through it.
func ParseQuery(c *fiber.Ctx) (wxcrypto.Query, error) {
	return wxcrypto.ParseRequestQuery(c.Request().URI().QueryString(), c.Context().QueryArgs())
}

// Open verifies a POSTed callback for an account in mode enc and returns
// its plaintext payload. Errors carry their status (StatusOf).
func Open(cr *wxcrypto.Crypter, enc Encryption, q wxcrypto.Query, body []byte, format wxcrypto.Format) (wxcrypto.Opened, error) {
	if enc == EncryptionPlain && q.Encrypted() {
		return wxcrypto.Opened{}, &RequestError{Status: http.StatusBadRequest,
			Err: errors.New("opening callback: an encrypted request for an account configured with encryption: plain")}
	}
	opened, err := cr.OpenRequest(q, body, format)
	if err != nil {
		return wxcrypto.Opened{}, err
	}
	return opened, nil
}

// ErrBodyTooLarge refuses a body over http.body_limit that reached a
// handler (fiber normally answers 413 before).
var ErrBodyTooLarge = &RequestError{Status: http.StatusRequestEntityTooLarge, Err: errors.New("body over http.body_limit")}

// OpenPush is the common start of a WeChat-family push: the body limit,
// the query, then the signature check and decryption for the account's
// encryption mode. Errors are RequestErrors carrying the status to answer.
func OpenPush(c *fiber.Ctx, cr *wxcrypto.Crypter, enc Encryption, bodyLimit int, format wxcrypto.Format) (wxcrypto.Opened, error) {
	body := c.Body()
	if bodyLimit > 0 && len(body) > bodyLimit {
		return wxcrypto.Opened{}, ErrBodyTooLarge
	}
	q, err := ParseQuery(c)
	if err != nil {
		return wxcrypto.Opened{}, err
	}
	return Open(cr, enc, q, body, format)
}

// VerifyURL answers a console's URL check the official-account way: the
// plain signature over token, timestamp and nonce, then echostr verbatim,
// in every mode (PROTOCOLS.md §1.1, §2). On failure err is what to
// refuse the request with (a RequestError carrying the status).
func VerifyURL(c *fiber.Ctx, cr *wxcrypto.Crypter) (echo string, err error) {
	q, err := ParseQuery(c)
	if err != nil {
		return "", err
	}
	return cr.VerifyEcho(q)
}
