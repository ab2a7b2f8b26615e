// Package dingmsg verifies and parses DingTalk enterprise-internal robot
// callbacks in HTTP mode (PROTOCOLS.md §4.1): the timestamp + sign headers
// and the JSON body. Functions are pure; the dingtalk adapter reads the
// headers and body, calls VerifySign, then Parse, and answers through the
// message's sessionWebhook (Reply.Token) or the OpenAPI once it expires.
//
// Stream mode delivers the same JSON body over a WebSocket (PROTOCOLS.md §4.2),
// so Parse serves both modes; only VerifySign is HTTP-specific.
//
// Authentication failures reuse wxcrypto's sentinel errors, so one
// wxcrypto.IsAuthFailure check maps every channel's failures to 401.
package dingmsg
