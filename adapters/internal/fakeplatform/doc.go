// Package fakeplatform provides httptest fakes of the WeChat, WeCom and
// DingTalk APIs for every channel's tests, plus builders of signed and
// encrypted inbound callbacks. Point an account's api_base at a fake's URL
// and assert on what was sent.
//
// Each fake:
//   - issues access tokens for registered credentials, counts token calls
//     (TokenCalls) and validates the token of every API call; ExpireTokens and
//     RevokeTokens make existing tokens fail with 42001 / 40001 (DingTalk:
//     HTTP 400 InvalidAuthentication) to exercise refresh-and-retry;
//   - records every request with its decoded JSON body (Requests, Calls);
//   - injects errors and delays on demand (Fail);
//   - runs on an injectable clock (SetNow) so 48-hour windows and code
//     lifetimes can be tested without waiting.
//
// Platform rules the fakes enforce, with their sources:
//   - WeChat customer-service messages: when EnforceWindow is on, a send needs
//     a customer message within 48 hours (else 45015) and at most 5 sends per
//     customer message (else 45047) (PROTOCOLS.md §1.5).
//   - 微信客服: send_msg only in session states 0 and 1 (else 95018), 5 sends
//     per customer message within 48 hours (else 95001, UNCONFIRMED code),
//     the service-state machine 0→1/2/3/4, 1→1/2/3/4, 2→2/3/4, 3→3/4, 4 fixed
//     until the customer writes (PROTOCOLS.md §3.3); sync_msg pages with a
//     cursor and has_more.
//   - DingTalk: session webhooks that expire (PROTOCOLS.md §4.1).
//
// Codes marked "fake" in the constants below are this package's own choice
// where the platforms' documents name none; adapters must not depend on them.
package fakeplatform
