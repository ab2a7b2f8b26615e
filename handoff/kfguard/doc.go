// Package kfguard holds only a test: it checks at compile time that the
// 微信客服 adapter implements the handoff's servicer hooks. It lives apart
// from handoff's own tests because linking the real adapter registers the
// wecom_kf channel kind, which those tests fake.
package kfguard
