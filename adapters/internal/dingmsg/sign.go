package dingmsg

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strconv"
	"time"

	"github.com/kefu-gateway/kefu/adapters/internal/wxcrypto"
)

// DefaultSignWindow is how far the timestamp header may be from the local
// clock: DingTalk tells receivers to reject callbacks more than one hour off
// (PROTOCOLS.md §4.1).
const DefaultSignWindow = time.Hour

// Errors of sign verification, shared with wxcrypto.
var (
	ErrSignatureMismatch = wxcrypto.ErrSignatureMismatch
	ErrStaleTimestamp    = wxcrypto.ErrStaleTimestamp
	ErrMissingHeader     = wxcrypto.ErrMissingParam
	ErrMalformedHeader   = wxcrypto.ErrMalformedParam
)

// Sign computes the callback signature:
// Base64(HmacSHA256(key = appSecret, data = timestamp + "\n" + appSecret)).
// Unlike the custom-robot webhook sign, the inbound sign is not URL-encoded
// (PROTOCOLS.md §4.1).
func Sign(timestamp, appSecret string) string {
	mac := hmac.New(sha256.New, []byte(appSecret))
	mac.Write([]byte(timestamp))
	mac.Write([]byte{'\n'})
	mac.Write([]byte(appSecret))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// VerifySign checks the timestamp (milliseconds) and sign headers of an
// HTTP-mode robot callback: the timestamp must be within window of now (zero
// means DefaultSignWindow) and the sign must match, compared in constant time.
// Errors never contain the secret or the expected signature.
func VerifySign(timestamp, sign, appSecret string, now time.Time, window time.Duration) error {
	if timestamp == "" {
		return fmt.Errorf("verifying dingtalk sign: %w: timestamp header", ErrMissingHeader)
	}
	if sign == "" {
		return fmt.Errorf("verifying dingtalk sign: %w: sign header", ErrMissingHeader)
	}
	if len(timestamp) > 20 || len(sign) > 128 {
		return fmt.Errorf("verifying dingtalk sign: %w: header too long", ErrMalformedHeader)
	}
	ms, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return fmt.Errorf("verifying dingtalk sign: %w: timestamp is not a number of milliseconds", ErrMalformedHeader)
	}
	if window <= 0 {
		window = DefaultSignWindow
	}
	if err := wxcrypto.CheckTime(time.UnixMilli(ms), now, window); err != nil {
		return fmt.Errorf("verifying dingtalk sign: %w", err)
	}
	if subtle.ConstantTimeCompare([]byte(Sign(timestamp, appSecret)), []byte(sign)) != 1 {
		return fmt.Errorf("verifying dingtalk sign: %w", ErrSignatureMismatch)
	}
	return nil
}
