// Package wecomkf is the WeCom 微信客服 channel: customers write from WeChat
// (a link, a QR code, a mini-program or a video-account button), and kefu
// answers through the 微信客服 API of the corp.
//
// # Inbound: callback, then pull
//
// GET /wecom/kf/{id} is the URL check (msg_signature over the encrypted
// echostr, receive id = CorpID, plaintext echoed back). POST /wecom/kf/{id}
// only announces that messages are waiting (kf_msg_or_event, with a token
// and the open_kfid): its msg_signature is verified — silenceper's kf
// callback decoding does not — and the request answered 200 at once. The
// callback records the token, bumps a per-kf-account counter and enqueues a
// wecom_kf:sync task under one id per kf account, so a burst of callbacks
// coalesces into one pull (see enqueueSync for the follow-up that covers a
// callback arriving while a pull is finishing).
//
// The sync worker holds a Redis lock per kf account, reads the cursor, and
// pulls sync_msg pages while has_more is 1, even when a page is empty
// (PROTOCOLS.md §3.3). Only customer messages (origin 3) and enter_session
// events go to the router; servicer messages (origin 5) are never answered,
// so a human's words do not echo back. A customer's messages are handed over
// one after another, each after the previous turn finished, so a burst is
// answered in order. The cursor is saved only after a page is dispatched: a
// worker that dies mid-page leaves the cursor behind, the next pull reads
// the page again, and the router drops what it had already seen.
//
// # Outbound
//
// Replies go through send_msg with a msgid per part derived from the
// transcript entry (OutboundMsgID), never the inbound msgid. Before a send
// the session state is checked (service_state/get, cached briefly and
// dropped on session events): the API may send only in states 0 and 1; in
// 2, 3 or 4 (queued for, or served by, a WeCom servicer; ended) the send is a
// permanent failure with that reason, recorded by the outbound worker, and
// kefu never changes the state to regain the conversation. A 95018 from
// WeCom is treated the same way. Each customer message opens a window of 5
// messages within 48 hours (adapters/internal/window); sends outside it are
// refused before they are attempted. An answer to enter_session goes
// through send_msg_on_event with the event's welcome_code (valid 20 s, one
// message); later parts use send_msg.
//
// # For the handoff component
//
// WeCom's own servicers can take a conversation: find the account with
// adapters.Set.Lookup(wecomkf.Kind, id), assert *wecomkf.Account, split the
// conversation id with ParseConversationID, and call
// TransferToServicer(ctx, conv.Customer, openKfID, servicerUserID) — an empty
// servicer queues it in the kf account's pool (state 2). TransferWithNotice
// also tells the customer, through the transfer's msg_code. ServiceState
// reads the current state.
//
// # Console setup (企业微信管理后台)
//
// 微信客服 → API → 回调配置 (开启): URL https://HOST/wecom/kf/{id}, Token and
// EncodingAESKey as configured; the Secret on the same page is the one to
// configure (it is not an app's secret). Then 通过API管理微信客服账号: give the
// API the kf accounts (客服账号) kefu should answer; optionally list their
// open_kfids under open_kfids. Add kefu's egress IP as a trusted IP.
package wecomkf
