// Package wecomapp is the WeCom self-built app channel (企业微信自建应用):
// members of the corp write to the app in WeCom, kefu answers through the
// app. It serves two purposes: an internal helpdesk for employees, and the
// channel through which human agents receive handed-over conversations (the
// handoff component intercepts messages from configured agents before the
// router sees them; to everyone else an employee is a customer like any
// other channel's).
//
// # Inbound
//
// GET /wecom/app/{id} is the URL check: msg_signature over the encrypted
// echostr is verified, the echostr decrypted (receive id = CorpID) and its
// plaintext written back as is (PROTOCOLS.md §3.1). POST /wecom/app/{id}
// carries messages and events in <xml><ToUserName/><AgentID/><Encrypt/></xml>;
// each is verified, decrypted, normalized by wxmsg.ParseWeComApp (text,
// image, voice with recognition, video, location, link, events such as
// enter_agent → enter_session) and handed to the router, which drops
// retries by MsgId. The request is answered with an empty 200 at once;
// answers go out actively. A bad signature, a foreign CorpID or a stale
// timestamp gets 401, a body over http.body_limit 413, anything malformed
// 400; none of them reaches the router.
//
// # Outbound
//
// POST /cgi-bin/message/send {touser, msgtype: text, agentid} with the app's
// own access token (shared through Redis, one refresher), text split at
// 2048 bytes. WeCom limits each app to 30 messages per minute and 1000 per
// hour per member and drops the excess silently (PROTOCOLS.md §3.2), so
// every send books a slot in a per-member sliding log in Redis first (see
// memberLimiter). A send whose slot is near waits for it; a later one is
// queued as a wecom_app:send_queued task scheduled for its slot. The log
// keeps the booking order, so messages to a member leave in order.
//
// # For the handoff component
//
// Find the account with adapters.Set.Lookup(wecomapp.Kind, id) and assert
// *wecomapp.Account, then call SendText(ctx, agentUserID, text) to reach an
// agent. Agent replies come back as inbound messages of conversation
// "wecom_app:<account>:<userid>".
//
// # Redis keys (all under the configured prefix)
//
//	wecomapp:sends:<account>:<userid>   sorted set of send times (ms), the per-member log
//	token:wecom:<corpid>:<agentid>      the app's access token (adapters/internal/wxtoken)
//
// # Console setup (企业微信管理后台)
//
// 应用管理 → 自建应用 → the app → 接收消息 → 设置API接收: URL
// https://HOST/wecom/app/{id}, Token and EncodingAESKey as configured (the
// console can generate both). Saving runs the URL check, so kefu must be
// running with the same values. Under 企业可信IP add the egress IP kefu (or
// the api_base proxy) calls qyapi.weixin.qq.com from.
package wecomapp
