package wxcrypto

import (
	"crypto/subtle"
	"fmt"

	"github.com/silenceper/wechat/v2/util"
)

// Signature returns hex(sha1(concat(sort(parts)))), lowercase: the plain
// signature over (token, timestamp, nonce) and the message signature over
// (token, timestamp, nonce, encrypt) are both this function
// (PROTOCOLS.md §0, VERIFIED against Tencent's vectors). The values are
// sorted, not the parameter names. parts is not modified.
func Signature(parts ...string) string {
	sorted := make([]string, len(parts))
	copy(sorted, parts)
	return util.Signature(sorted...) // util.Signature sorts its argument in place.
}

// signaturesEqual compares an expected and a received signature in constant
// time, so a forger learns nothing from response timing.
func signaturesEqual(expected, got string) bool {
	return subtle.ConstantTimeCompare([]byte(expected), []byte(got)) == 1
}

// VerifySignature checks a plain signature: hex(sha1(sort(token, timestamp,
// nonce))) == signature, in constant time. It is the URL check of official
// accounts and mini-programs and the guard of every plain-mode push
// (PROTOCOLS.md §1.1, §2).
func VerifySignature(token, timestamp, nonce, signature string) error {
	if !signaturesEqual(Signature(token, timestamp, nonce), signature) {
		return fmt.Errorf("verifying signature: %w", ErrSignatureMismatch)
	}
	return nil
}

// VerifyMsgSignature checks a message signature: hex(sha1(sort(token,
// timestamp, nonce, encrypt))) == msgSignature, in constant time
// (PROTOCOLS.md §0 "Message signature").
func VerifyMsgSignature(token, timestamp, nonce, encrypt, msgSignature string) error {
	if !signaturesEqual(Signature(token, timestamp, nonce, encrypt), msgSignature) {
		return fmt.Errorf("verifying msg_signature: %w", ErrSignatureMismatch)
	}
	return nil
}
