// Package wxmsg turns verified WeChat and WeCom callback payloads into
// message.Message values and renders passive replies. Every function here is
// pure: no I/O, no clock, no logging. Verification and decryption happen
// before, in wxcrypto; the adapters (adapters/wechat_oa, wechat_mp,
// wecom_app, wecom_kf) call wxcrypto.(*Crypter).OpenRequest, then one of:
//
//   - ParseOA: official-account XML (PROTOCOLS.md §1)
//   - ParseMP: mini-program customer-service push, XML or JSON (§2)
//   - ParseWeComApp: WeCom self-built app callback XML (§3.1)
//   - ParseKFCallback: the 微信客服 callback that only announces new messages (§3.3)
//   - ParseKFSync: a 微信客服 sync_msg response page (§3.3)
//
// Mapping rules shared by the parsers:
//   - Message.ID is the platform MsgId; a push without one (WeChat events) gets
//     normalize.EventID(sender, CreateTime, event) (§1.2).
//   - Unknown message types become message.KindUnsupported and are still
//     returned, with the platform type in Meta["msg_type"].
//   - Events become message.KindEvent. Known WeChat/WeCom events map onto the
//     message.Event* constants (subscribe with "qrscene_" stripped from the
//     key, unsubscribe, SCAN, CLICK, VIEW, user_enter_tempsession and
//     enter_agent as enter_session); other events keep their lower-cased
//     platform name as Event.Type so the router can ignore or match them
//     without treating them as customer text. The raw event is in Meta["event"].
//   - Voice with a Recognition result carries that text in Message.Text.
//   - Message.Raw is a copy of the plaintext payload.
//   - Reply.PassiveDeadline is left to the adapter, which knows when the
//     request arrived and its channel's budget.
package wxmsg
