// Package conformance is the test suite every channel adapter passes. A
// channel's end-to-end test implements Harness (how to start kefu with one
// account of the channel, how to build that channel's signed callbacks, how
// to read what the customer received from the fake platform) and calls Run:
//
//	func TestConformance(t *testing.T) {
//		conformance.Run(t, newHarness(t, "safe"))
//	}
//
// Run checks, against a whole kefu (apptest: real HTTP on loopback, real
// Redis, real asynq workers) and the channel's fake platform:
//
//   - URL verification is answered exactly; a forged one is refused;
//   - a request with a bad signature, or a stale timestamp, gets 401/403 and
//     nothing runs: no transcript entry, no dedup mark, no answer; the genuine
//     request with the same id is still answered afterwards;
//   - retries of one message — concurrent, sequential, and on a second kefu
//     process sharing the Redis — produce exactly one visible answer;
//   - a reply longer than the channel's MaxTextBytes reaches the customer in
//     parts, each within the limit, valid UTF-8, in order, nothing lost; the
//     active parts never overtake the passive one;
//   - a closed reply window and a spent quota are respected: nothing is sent
//     beyond them and the outbox records each message as undeliverable with
//     the reason;
//   - malformed and truncated bodies get 400, an oversized body 413
//     (http.body_limit), an unknown account id 404; nothing runs for any;
//   - junk requests never crash kefu nor earn a 5xx;
//   - no configured secret, access token, or customer text (at info level and
//     above) appears in the logs.
//
// A harness usually puts a Recorder between kefu and its fake platform, so
// Active reports only what the platform accepted and Traits.Attempted can
// count refused attempts.
//
// The suite ships its own flows (FlowsDir), so its expectations do not
// depend on the demo content. The Harness interface is the stable contract
// between the suite and the channels: methods are not removed or changed;
// new needs are met with new Traits fields, whose zero values keep today's
// behaviour.
package conformance

import (
	"net/http"
	"testing"
	"time"

	"github.com/kefu-gateway/kefu/adapters/message"
	"github.com/kefu-gateway/kefu/internal/testutil/apptest"
	"github.com/kefu-gateway/kefu/internal/testutil/redistest"
)

// Inbound is one customer text message the suite asks a harness to build.
type Inbound struct {
	// ID is the platform message id (MsgId, msgid, msgId). Requests built
	// from the same Inbound are retries of one message and must carry the
	// same id.
	ID string
	// Customer is the sender's platform id: an OpenID, a WeCom UserID, a
	// 微信客服 external_userid, a DingTalk staff id.
	Customer string
	// Text is what the customer wrote.
	Text string
	// At is the message's platform timestamp (CreateTime, createAt).
	// Harnesses sign requests with the current time unless a method says
	// otherwise.
	At time.Time
}

// Sent is one message the fake platform received for a customer through the
// channel's active API (customer-service message, message/send, kf/send_msg,
// a session webhook ...).
type Sent struct {
	// Text is the message's text (text messages), or a readable rendering
	// of other kinds.
	Text string
	// At is when the fake platform received the call.
	At time.Time
}

// Harness adapts the suite to one channel kind and one configured account.
// Every method may call t.Fatal on a setup failure. Implementations are used
// from one goroutine at a time, except Request, Passive and Active, which
// the suite calls concurrently.
type Harness interface {
	// Kind is the channel kind under test ("wechat_oa"); Account the id of
	// the configured account under test.
	Kind() string
	Account() string

	// Start starts one kefu process (apptest.Start) configured with the
	// account under test, its api_base pointing at the harness's fake
	// platform, flows.dir set to FlowsDir(t) and http.body_limit set to
	// BodyLimit. db is nil for the first process (apptest leases a
	// database); the suite passes the first process's database to start a
	// second process sharing the Redis. Both processes run workers.
	Start(t testing.TB, db *redistest.DB) *apptest.Server

	// URLCheck returns a valid URL-verification request and the exact body
	// the adapter must answer; ok is false when the channel has no URL
	// verification (DingTalk). Requests carry a path only (such as
	// "/wechat/oa/shop"): the suite points them at a server.
	URLCheck(t testing.TB) (req *http.Request, want string, ok bool)

	// Request returns a validly signed callback request carrying in, and
	// does on the fake platform what the real one does when a customer
	// writes (opening the customer's reply window; queueing the message for
	// sync_msg on 微信客服). Two calls with the same in build two retries of
	// one message.
	Request(t testing.TB, in Inbound) *http.Request

	// Forged returns in's request with a signature (or credential) that
	// does not match the account's.
	Forged(t testing.TB, in Inbound) *http.Request

	// Stale returns in's request, validly signed, stamped with a time
	// outside the adapter's replay window.
	Stale(t testing.TB, in Inbound) *http.Request

	// Malformed returns validly signed requests whose payload cannot be
	// parsed beyond the generic cases the suite builds itself (a body of
	// junk, a truncated body): for example a ciphertext that is not base64,
	// or a decrypted payload that is not XML. Each must be answered 400.
	Malformed(t testing.TB) []*http.Request

	// Passive returns the texts carried by the HTTP response to in's
	// request, read as the platform reads them (decrypted, parsed); nil when
	// the response carries no message ("success", an empty body, a bare
	// acknowledgement).
	Passive(t testing.TB, in Inbound, status int, body []byte) []string

	// Active returns what the fake platform received through the channel's
	// active API for customer, oldest first.
	Active(t testing.TB, customer string) []Sent

	// Customer returns the conversation id kefu uses for customer's
	// conversation with the account under test, and the party to address
	// a message to (router.Delivery.Customer).
	Customer(customer string) (conversationID string, party message.Party)

	// OpenWindow gives customer a fresh reply window, on the fake platform
	// and in kefu, as a message of theirs would, and returns how many active
	// messages it allows. It returns 0 when the channel has no reply window
	// or quota; the window checks are then skipped.
	OpenWindow(t testing.TB, srv *apptest.Server, customer string) int

	// CloseWindow closes customer's reply window on the fake platform and
	// in kefu, as 48 hours without a customer message would. The suite
	// calls it for customers it never opened a window for, so a fake that
	// cannot close windows needs only kefu's record closed.
	CloseWindow(t testing.TB, srv *apptest.Server, customer string)

	// Secrets lists the configured secrets (app secrets, callback tokens,
	// EncodingAESKeys, signing keys) that must never appear in logs.
	Secrets() []string

	// Traits describes the channel's behaviour where channels differ.
	Traits() Traits
}

// Traits are the differences between channels the suite allows for. The
// zero value describes a channel that answers within AnswerWait.
type Traits struct {
	// AnswerWait bounds how long the suite waits for a customer to receive
	// an answer. Zero means DefaultAnswerWait.
	AnswerWait time.Duration
	// Settle is how long the suite keeps watching after the expected
	// answers arrived, to catch duplicates. Zero means DefaultSettle.
	Settle time.Duration
	// Attempted, when set, counts the active-API calls the fake platform
	// received for customer, refused ones included (Recorder.Calls). The
	// window checks then also require that kefu did not try to send beyond
	// a closed window or a spent quota (LESSONS.md: not attempted
	// blindly), instead of only that nothing arrived.
	Attempted func(t testing.TB, customer string) int
}

// Defaults for Traits.
const (
	DefaultAnswerWait = 10 * time.Second
	DefaultSettle     = 1500 * time.Millisecond
)

// BodyLimit is the http.body_limit a harness configures, so the suite can
// build a body just over it.
const BodyLimit = 64 << 10

func (tr Traits) withDefaults() Traits {
	if tr.AnswerWait <= 0 {
		tr.AnswerWait = DefaultAnswerWait
	}
	if tr.Settle <= 0 {
		tr.Settle = DefaultSettle
	}
	return tr
}
