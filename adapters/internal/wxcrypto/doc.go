// Package wxcrypto implements the message security scheme shared by WeChat
// official accounts, mini-program customer-service push, WeCom self-built app
// callbacks and WeCom 微信客服 (PROTOCOLS.md §0):
//
//   - the plain signature hex(sha1(sort(token, timestamp, nonce))) that guards
//     URL verification and plain-mode pushes;
//   - the message signature hex(sha1(sort(token, timestamp, nonce, encrypt)))
//     that guards every encrypted payload;
//   - AES-256-CBC with IV = key[:16] and PKCS#7 padding to 32-byte blocks over
//     random(16) | msg_len(4, big-endian) | msg | receiveid, base64-encoded;
//   - the receiveid check (AppID for official accounts and mini-programs,
//     CorpID for WeCom apps and 微信客服);
//   - the encrypted passive-reply envelope, in XML and JSON form.
//
// The SHA-1 signature and the AES framing reuse silenceper/wechat's util
// primitives (util.Signature, util.AESEncryptMsg, util.AESDecryptMsg), which
// match the platform documents and Tencent's published vectors. This package
// wraps them where they fall short for a server facing the internet:
// signatures are compared in constant time, the EncodingAESKey is validated
// once with an error that does not echo it, the receive id is compared in
// constant time, inputs are size-limited before any work, and no path panics
// or returns Chinese-only messages.
//
// Verification always happens before decryption: Open checks msg_signature
// over the ciphertext first, so the CBC decryption never runs on
// unauthenticated bytes.
package wxcrypto
