// Package wxtoken keeps platform access tokens in Redis, shared by every kefu
// process, with exactly one refresher at a time.
//
// WeChat, WeCom and DingTalk tokens live about two hours, and fetching a new
// one can invalidate the old (PROTOCOLS.md §1.7), so processes that each
// refresh on their own knock each other's tokens out. silenceper/wechat locks
// per process only and never retries on a rejected token (PROTOCOLS.md §6);
// this package replaces its credential handles:
//
//   - Store.Token reads the token from Redis (and a short in-process copy). A
//     token with less than RefreshAhead left is refreshed by whoever takes a
//     Redis lock (SET NX PX); the others keep using the still-valid token, or,
//     when there is none, wait and read what the refresher stored.
//   - Store.Invalidate marks a token the platform refused (40001/40014/42001)
//     as unusable, only if it is still the current one, so several processes
//     reporting the same bad token cause one refresh. apiclient.Client calls it
//     and retries once.
//   - Fetchers get tokens from each platform: WeChat client_credential
//     (/cgi-bin/token) and stable_token, WeCom gettoken (one key per secret:
//     the 微信客服 secret's token is not an app's), DingTalk OAuth2.
//
// Store implements apiclient.TokenSource.
package wxtoken
