package apiclient

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
)

// PlatformError is a call the platform answered with an error: a non-zero
// errcode (WeChat, WeCom, DingTalk's old API and session webhooks), a
// DingTalk v1.0 error {code, message}, or an HTTP error status.
type PlatformError struct {
	Platform Platform
	// API names the endpoint, such as "cgi-bin/message/custom/send".
	API string
	// HTTPStatus is the response status when it was not 2xx; zero otherwise.
	HTTPStatus int
	// Code is the numeric errcode; zero when the platform sent none.
	Code int
	// Key is DingTalk's string error code, such as "InvalidAuthentication".
	Key string
	// Msg is the platform's errmsg/message, truncated to 256 bytes.
	Msg string
}

// Error implements error.
func (e *PlatformError) Error() string {
	s := e.Platform.String() + " " + e.API + ":"
	if e.HTTPStatus != 0 {
		s += " HTTP " + strconv.Itoa(e.HTTPStatus)
	}
	if e.Code != 0 {
		s += " errcode " + strconv.Itoa(e.Code)
	}
	if e.Key != "" {
		s += " " + e.Key
	}
	if e.Msg != "" {
		s += ": " + e.Msg
	}
	return s
}

// Error codes with a meaning for kefu (PROTOCOLS.md §1.6, §3.3).
const (
	CodeSystemBusy        = -1    // 系统繁忙: retry later
	CodeInvalidCredential = 40001 // AppSecret wrong or access_token invalid/not latest
	CodeInvalidToken      = 40014 // invalid access_token
	CodeTokenExpired      = 42001 // access_token expired
	CodeAPIQuota          = 45009 // daily API call quota reached
	CodeTooFrequent       = 45011 // API call frequency limit
	CodeWindowClosed      = 45015 // reply outside the 48 h window, or unsubscribed
	CodeQuotaExceeded     = 45047 // customer-service messages over the per-message quota
	CodeKFSendLimit       = 95001 // 微信客服: over the 5 messages allowed until the customer writes (UNCONFIRMED: community code tables)
	CodeKFSessionInvalid  = 95018 // 微信客服: send_msg in a session state that forbids it (served by a human, ended)
	dingTalkAuthKey       = "InvalidAuthentication"
)

// AsPlatformError returns the *PlatformError in err's chain.
func AsPlatformError(err error) (*PlatformError, bool) {
	var pe *PlatformError
	ok := errors.As(err, &pe)
	return pe, ok
}

func hasCode(err error, codes ...int) bool {
	pe, ok := AsPlatformError(err)
	if !ok {
		return false
	}
	for _, c := range codes {
		if pe.Code == c {
			return true
		}
	}
	return false
}

// IsTokenInvalid reports an access token the platform refused: 40001, 40014
// or 42001 (WeChat, WeCom, DingTalk's old API), or DingTalk's
// InvalidAuthentication. The Client already invalidates the token and retries
// once on these.
func IsTokenInvalid(err error) bool {
	if hasCode(err, CodeInvalidCredential, CodeInvalidToken, CodeTokenExpired) {
		return true
	}
	pe, ok := AsPlatformError(err)
	return ok && pe.Key == dingTalkAuthKey
}

// IsWindowClosed reports 45015: the customer has not written within 48 hours
// (or unfollowed), so customer-service messages are refused until they write
// again (PROTOCOLS.md §1.5).
func IsWindowClosed(err error) bool { return hasCode(err, CodeWindowClosed) }

// IsQuotaExceeded reports that the messages allowed per customer message are
// used up: 45047 for official accounts and mini-programs, 95001 for 微信客服.
func IsQuotaExceeded(err error) bool { return hasCode(err, CodeQuotaExceeded, CodeKFSendLimit) }

// IsKFSessionInvalid reports 95018: the 微信客服 session is in a state in which
// the API may not send (a human servicer owns it, or it ended).
func IsKFSessionInvalid(err error) bool { return hasCode(err, CodeKFSessionInvalid) }

// IsRateLimited reports a call-rate or daily-quota limit (45009, 45011, HTTP 429).
func IsRateLimited(err error) bool {
	if hasCode(err, CodeAPIQuota, CodeTooFrequent) {
		return true
	}
	pe, ok := AsPlatformError(err)
	return ok && pe.HTTPStatus == http.StatusTooManyRequests
}

// IsTransient reports a failure that may succeed if retried later: network
// errors and timeouts, HTTP 5xx, system busy (-1), rate limits, and token
// errors that survived the built-in retry.
func IsTransient(err error) bool {
	if err == nil {
		return false
	}
	if pe, ok := AsPlatformError(err); ok {
		return pe.HTTPStatus >= 500 || pe.Code == CodeSystemBusy || IsRateLimited(err) || IsTokenInvalid(err)
	}
	var netErr net.Error
	return errors.As(err, &netErr) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, errTruncatedBody)
}

// IsPermanent reports a failure that retrying the same call cannot fix: a
// platform error that is not transient (45015 window closed, 45047 quota,
// 40003 invalid openid, 95018 …), or a request kefu could not even build.
// Cancellation by the caller is neither transient nor permanent.
func IsPermanent(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || IsTransient(err) {
		return false
	}
	if _, ok := AsPlatformError(err); ok {
		return true
	}
	return errors.Is(err, ErrBadRequest) || errors.Is(err, ErrResponseTooLarge)
}

// ErrBadRequest wraps requests that cannot be built or encoded.
var ErrBadRequest = errors.New("bad request")

// errTruncatedBody marks a response cut off by the network.
var errTruncatedBody = errors.New("response body truncated")

// ErrResponseTooLarge reports a response over Config.MaxResponseBytes.
var ErrResponseTooLarge = errors.New("response too large")

// ErrMalformedResponse reports a response that is not the expected JSON.
var ErrMalformedResponse = errors.New("malformed response")

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 { // do not cut inside a UTF-8 sequence
		n--
	}
	return s[:n] + "…"
}
