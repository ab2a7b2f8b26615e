package wxcrypto

import "errors"

// Authentication failures. A request that fails with one of these must be
// answered 401/403 and not processed (CONTRACT.md "HTTP endpoints").
var (
	// ErrSignatureMismatch means the signature or msg_signature does not match
	// the configured token.
	ErrSignatureMismatch = errors.New("signature mismatch")
	// ErrReceiveIDMismatch means the decrypted payload names another AppID or
	// CorpID than the account's (PROTOCOLS.md §0 "Decrypt must check receiveid").
	ErrReceiveIDMismatch = errors.New("receive id mismatch")
	// ErrStaleTimestamp means the request timestamp is outside the allowed skew.
	ErrStaleTimestamp = errors.New("timestamp outside the allowed window")
)

// Input and configuration failures. A request that fails with one of these is
// malformed (400), except ErrNoAESKey, which is a configuration problem.
var (
	// ErrMissingParam means a query parameter the scheme requires is absent.
	ErrMissingParam = errors.New("missing query parameter")
	// ErrMalformedParam means a query parameter is present but not well formed.
	ErrMalformedParam = errors.New("malformed query parameter")
	// ErrMalformedCiphertext means the encrypted payload is not valid base64,
	// not a whole number of AES blocks, badly padded or badly framed.
	ErrMalformedCiphertext = errors.New("malformed ciphertext")
	// ErrMalformedEnvelope means the request body is not a parsable XML or JSON
	// envelope, or carries no Encrypt field where one is required.
	ErrMalformedEnvelope = errors.New("malformed envelope")
	// ErrTooLarge means an input exceeds the package's size limits.
	ErrTooLarge = errors.New("input too large")
	// ErrInvalidAESKey means the configured EncodingAESKey is not 43 characters
	// of [A-Za-z0-9] decoding to 32 bytes.
	ErrInvalidAESKey = errors.New("invalid EncodingAESKey")
	// ErrNoAESKey means an encrypted payload arrived for an account configured
	// without an EncodingAESKey (plain mode).
	ErrNoAESKey = errors.New("no EncodingAESKey configured for an encrypted payload")
	// ErrInvalidConfig means a required setting such as the token is empty.
	ErrInvalidConfig = errors.New("invalid crypto configuration")
)

// IsAuthFailure reports whether err means the request is not authentic
// (bad signature, foreign receive id or stale timestamp), as opposed to
// malformed. Callers answer the first with 401 and the second with 400.
func IsAuthFailure(err error) bool {
	return errors.Is(err, ErrSignatureMismatch) ||
		errors.Is(err, ErrReceiveIDMismatch) ||
		errors.Is(err, ErrStaleTimestamp)
}
