// Package apiclient is kefu's outbound HTTP layer for the platform APIs:
// WeChat (official accounts and mini-programs), WeCom (self-built apps and
// 微信客服) and DingTalk.
//
// # Why kefu's own small typed clients, not silenceper/wechat's senders
//
// silenceper/wechat sends every call through the process-global
// util.DefaultHTTPClient (no timeout by default) to hard-coded hosts, and its
// URI modifier is global too and skips some calls (PROTOCOLS.md §6). Routing
// several accounts with different api_base values through that global would
// mean recognizing the account from each request (appid or corpid in some
// queries, an access_token in others, the appid inside the stable_token JSON
// body) and keeping a token-to-account map in step with refreshes. On top of
// that, its token handles refresh per process only and never retry on
// 40001/40014/42001, some senders return plain fmt.Errorf text instead of an
// errcode, and DingTalk is not covered at all.
//
// kefu calls about a dozen endpoints, each a small JSON request. So each
// account gets its own Client here: an *http.Client with its own timeout and
// a transport that rewrites scheme and host to the account's api_base, an
// access-token source (wxtoken.Store, shared through Redis) with one
// invalidate-and-retry on token errors, and errcode parsing into
// *PlatformError for every platform. No process-global state is touched;
// silenceper/wechat remains in use for the callback crypto primitives
// (adapters/internal/wxcrypto).
//
// # Errors
//
// Every failed call returns an error wrapping either *PlatformError (the
// platform answered with an error code or an HTTP error status) or the
// transport error with the URL's query removed, so neither access tokens,
// secrets nor session webhooks ever appear in an error or a log line.
// IsTokenInvalid, IsWindowClosed, IsQuotaExceeded, IsRateLimited and
// IsPermanent classify them; workers turn IsPermanent into asynq.SkipRetry.
package apiclient
