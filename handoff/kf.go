package handoff

import (
	"context"
	"strings"

	"github.com/kefu-gateway/kefu/adapters/message"
)

// KFChannel is the channel kind of WeCom 微信客服 accounts.
const KFChannel = "wecom_kf"

// EventKFSessionEnded is an event type a 微信客服 adapter may give the
// router when WeCom reports that a servicer's session ended
// (session_status_change); the handoff then returns the conversation to
// the bot at once. PROTOCOLS.md §3.3.
const EventKFSessionEnded = "kf_session_ended"

// ServicerTransferrer is implemented by the 微信客服 adapter
// (*wecomkf.Account). For accounts listed in handoff.kf_servicer a handoff
// does not go to kefu's agents: the session goes to WeCom's own reception
// with kf/service_state/trans — to the servicer pool (state 2, servicer
// empty) or to one servicer (state 3). From then on send_msg is refused
// (allowed only in states 0 and 1, PROTOCOLS.md §3.3), so the sentence for
// the customer travels with the transfer: the adapter sends notice with
// kf/send_msg_on_event and the msg_code the transfer returns. The bot stays
// silent (owner "kf:<servicer>" or "kf:pool") until the session ends.
type ServicerTransferrer interface {
	TransferWithNotice(ctx context.Context, customer message.Party, openKfID, servicerUserID, notice string) error
}

// ServicerSessionChecker is optionally implemented by the 微信客服 adapter
// to say whether WeCom's reception still holds a conversation (service
// state 2 or 3). When a customer of a handed-over conversation writes and
// the session is over (state 4 becomes 0 when the customer writes), the
// conversation returns to the bot. Without it, the conversation returns
// after kf_servicer_timeout, or when the adapter gives the router an
// EventKFSessionEnded event.
type ServicerSessionChecker interface {
	ServicerServing(ctx context.Context, customer message.Party, openKfID string) (bool, error)
}

// kfOwner is the owner value of a conversation WeCom's reception serves.
func kfOwner(servicer string) string {
	if servicer == "" {
		return OwnerKFPrefix + "pool"
	}
	return OwnerKFPrefix + servicer
}

// openKfID finds the 微信客服 account (open_kfid) of a conversation: from
// the customer's message, or from the conversation id, which the adapter
// forms as "wecom_kf:<account>:<open_kfid>/<external_userid>".
func openKfID(meta map[string]string, conv string) string {
	if id := meta["open_kfid"]; id != "" {
		return id
	}
	rest, ok := strings.CutPrefix(conv, KFChannel+":")
	if !ok {
		return ""
	}
	_, peer, ok := strings.Cut(rest, ":")
	if !ok {
		return ""
	}
	id, _, _ := strings.Cut(peer, "/")
	return id
}
