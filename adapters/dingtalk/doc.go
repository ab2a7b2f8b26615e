// Package dingtalk is the DingTalk enterprise internal robot channel
// (企业内部应用机器人): members write to the robot in a 1:1 chat, or @ it in a
// group, and kefu answers.
//
// # Receiving: HTTP mode or stream mode
//
// HTTP mode (mode: http): DingTalk POSTs each message to /dingtalk/{id}
// with `timestamp` (ms) and `sign` headers; sign is
// Base64(HmacSHA256(AppSecret, timestamp + "\n" + AppSecret)) and the
// timestamp must be within an hour of the local clock (PROTOCOLS.md §4.1).
// Stale or future timestamps, wrong signs and missing headers get 401,
// malformed bodies 400, oversized ones 413; none reaches the router. A good
// request is answered with an empty 200 at once.
//
// Stream mode (mode: stream): no public URL; kefu asks the gateway for a
// WebSocket endpoint (POST /v1.0/gateway/connections/open through
// api_base) and keeps the connection open (PROTOCOLS.md §4.2), speaking the
// protocol of the official SDK (github.com/open-dingtalk/dingtalk-stream-sdk-go
// v0.9.1) with its frame types; see stream.go for why the connection loop is
// kefu's own. Robot messages are acked at once, SYSTEM pings answered, a
// SYSTEM disconnect followed by an immediate reconnect; lost connections are
// reopened with exponential backoff and jitter, and a silent one is detected
// by ping/pong. Metrics: kefu_dingtalk_stream_connected{account} (gauge) and
// kefu_dingtalk_stream_reconnects_total{account}.
//
// Both modes parse the same JSON body with dingmsg.Parse, so messages are
// normalized identically: 1:1 chats keyed by the sender's staff id, groups
// by the conversation id, the @mention left out of the text, the
// sessionWebhook and its expiry in Reply. The router drops redeliveries by
// msgId.
//
// # Answering
//
// Through the message's sessionWebhook while it lives (about 90 minutes;
// no token needed), text or markdown (Capabilities.Markdown is true). Once it
// expires — or when DingTalk refuses it — through the robot OpenAPI with the
// app's access token: batchSend to the staff id for a 1:1 chat, a group send
// with robot_code and openConversationId for a group. Each inbound message
// saves its conversation's route in Redis, so answers produced outside the
// turn (an agent's reply, a follow-up) find the latest webhook or the
// OpenAPI target.
//
// # Redis keys (under the configured prefix)
//
//	dingtalk:route:{<conversation>}   hash: group, cid, staff, robot, hook, exp; TTL 30 days
//	token:dingtalk:<appkey>           the app's access token (adapters/internal/wxtoken)
//
// # Console setup (DingTalk developer console, open-dev.dingtalk.com)
//
// 应用开发 → the internal app → 应用功能 → 机器人: enable the robot, then under
// 消息接收模式 choose HTTP模式 with the message URL https://HOST/dingtalk/{id},
// or Stream模式 (then set mode: stream; kefu needs no public URL). AppKey and
// AppSecret are under 凭证与基础信息. Publish the app version so members can
// find the robot.
package dingtalk
