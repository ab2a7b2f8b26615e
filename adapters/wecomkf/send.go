package wecomkf

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/kefu-gateway/kefu/adapters"
	"github.com/kefu-gateway/kefu/adapters/internal/apiclient"
	"github.com/kefu-gateway/kefu/adapters/internal/window"
	"github.com/kefu-gateway/kefu/adapters/internal/wxmsg"
	"github.com/kefu-gateway/kefu/adapters/message"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// ErrSessionNotForBot is wrapped (as a permanent failure) by Send when the
// conversation's session state forbids API sends: a WeCom servicer serves
// it, it is queued for one, or it has ended (PROTOCOLS.md §3.3; errcode
// 95018). The bot stays silent and never changes the state.
var ErrSessionNotForBot = errors.New("the 微信客服 session is not in a state the bot may send in")

// Send delivers msg to the customer through 微信客服:
//
//   - An answer to an enter_session event that still carries its
//     welcome_code (valid 20 s, one message) goes through send_msg_on_event;
//     the code is claimed in Redis first so only one part uses it.
//   - Everything else goes through send_msg, only when the session state
//     (service_state/get, cached for state_cache) is 0 or 1, and only within
//     the customer's window (5 messages within 48 h of their last message).
//     A refused send is a permanent failure carrying the reason.
//
// Each part has its own msgid, derived from the transcript entry id and the
// conversation (see OutboundMsgID), never the inbound msgid; a retry of the
// same part reuses it, so WeCom does not show it twice.
func (a *Account) Send(ctx context.Context, msg message.Message) (adapters.SendResult, error) {
	if a.api == nil {
		return adapters.SendResult{}, errNotConnected
	}
	openKfID, user := route(a.cfg.ID, msg)
	if openKfID == "" || user == "" {
		return adapters.SendResult{}, adapters.Permanent(fmt.Errorf("sending kf message: no open_kfid and external_userid for conversation %q", msg.ConversationID))
	}
	text, err := renderText(msg)
	if err != nil {
		return adapters.SendResult{}, adapters.Permanent(fmt.Errorf("sending kf message: %w", err))
	}
	msgID := OutboundMsgID(msg.ConversationID, msg.ID)

	if res, sent, err := a.sendWelcome(ctx, msg, msgID, text); sent || err != nil {
		return res, err
	}

	state, err := a.cachedState(ctx, openKfID, user)
	if err != nil {
		return adapters.SendResult{}, fmt.Errorf("sending kf message: %w", err)
	}
	if !state.BotMaySend() {
		return adapters.SendResult{}, adapters.Permanent(fmt.Errorf("sending kf message: %w: %s", ErrSessionNotForBot, state))
	}
	wkey := a.windowKey(openKfID, user)
	w, err := a.windows.Take(ctx, wkey)
	if err != nil {
		return adapters.SendResult{}, fmt.Errorf("sending kf message: %w", err)
	}
	if !w.Open {
		closed := adapters.ErrWindowClosed
		if w.Reason != "" && strings.Contains(w.Reason, "quota") {
			closed = adapters.ErrQuotaExceeded
		}
		return adapters.SendResult{}, fmt.Errorf("sending kf message: %w: %s", closed, w.Reason)
	}
	id, err := a.api.SendMsg(ctx, apiclient.KFText(openKfID, user, msgID, text))
	if err != nil {
		if _, answered := apiclient.AsPlatformError(err); answered {
			// WeCom refused it, so nothing was sent: give the quota back.
			if rerr := a.windows.Refund(ctx, wkey, window.KFMessage.Kind); rerr != nil {
				a.ch.deps.Log.Warn("refunding kf window failed", zap.Error(rerr))
			}
		}
		if apiclient.IsKFSessionInvalid(err) {
			a.forgetState(ctx, openKfID, user)
			return adapters.SendResult{}, adapters.Permanent(fmt.Errorf("sending kf message: %w: a WeCom servicer took the session or it ended (95018): %w", ErrSessionNotForBot, err))
		}
		return adapters.SendResult{}, apiclient.SendError(err)
	}
	return adapters.SendResult{PlatformID: id}, nil
}

// sendWelcome answers an enter_session event with its welcome_code. sent is
// false when the message is not such an answer, the code has expired or was
// used by an earlier part, or WeCom refused the code: the caller then uses
// send_msg.
func (a *Account) sendWelcome(ctx context.Context, msg message.Message, msgID, text string) (adapters.SendResult, bool, error) {
	code := msg.Reply.Token
	if code == "" || msg.Meta[wxmsg.MetaEvent] != "enter_session" {
		return adapters.SendResult{}, false, nil
	}
	if !msg.Reply.TokenExpires.IsZero() && !a.ch.deps.Clock.Now().Before(msg.Reply.TokenExpires) {
		return adapters.SendResult{}, false, nil
	}
	key := a.keys.code(code)
	claimed, err := a.ch.deps.Redis.SetNX(ctx, key, msgID, time.Minute).Result()
	if err != nil {
		return adapters.SendResult{}, false, fmt.Errorf("sending kf welcome: %w", err)
	}
	if !claimed {
		// An earlier part used it — unless that was this very part, whose
		// send failed in flight: then try the code again.
		if owner, _ := a.ch.deps.Redis.Get(ctx, key).Result(); owner != msgID {
			return adapters.SendResult{}, false, nil
		}
	}
	id, err := a.api.SendMsgOnEvent(ctx, apiclient.KFEventMessage{Code: code, MsgID: msgID, MsgType: "text", Text: &apiclient.Text{Content: text}})
	if err == nil {
		return adapters.SendResult{PlatformID: id}, true, nil
	}
	if apiclient.IsTransient(err) {
		return adapters.SendResult{}, false, fmt.Errorf("sending kf welcome: %w", err)
	}
	a.ch.deps.Log.Info("kf welcome_code refused; answering with send_msg", zap.String("account", a.cfg.ID), zap.Error(err))
	return adapters.SendResult{}, false, nil
}

// route finds where a message goes: its open_kfid (Meta) and the customer's
// external_userid (To), else both from the conversation id.
func route(account string, msg message.Message) (openKfID, user string) {
	openKfID, user = msg.Meta[wxmsg.MetaOpenKfID], msg.To.ID
	if openKfID != "" && user != "" {
		return openKfID, user
	}
	if acc, kf, u, ok := ParseConversationID(msg.ConversationID); ok && acc == account {
		return kf, u
	}
	return "", ""
}

// renderText turns a message into 微信客服 text. Link cards need an uploaded
// thumbnail, so cards become their title, description and link.
func renderText(msg message.Message) (string, error) {
	text := msg.Text
	if msg.Card != nil {
		lines := []string{}
		for _, s := range []string{text, msg.Card.Title, msg.Card.Description, msg.Card.URL} {
			if s = strings.TrimSpace(s); s != "" {
				lines = append(lines, s)
			}
		}
		text = strings.Join(lines, "\n")
	}
	if strings.TrimSpace(text) == "" {
		return "", fmt.Errorf("a %s message without text cannot be sent through 微信客服", msg.Kind)
	}
	if len(text) > MaxTextBytes {
		return "", fmt.Errorf("text of %d bytes is over the %d-byte limit (the router splits replies; split before sending)", len(text), MaxTextBytes)
	}
	return text, nil
}

var msgIDPattern = regexp.MustCompile(`^[0-9A-Za-z_-]{1,32}$`)

// OutboundMsgID is the send_msg msgid of a part: at most 32 bytes of
// [0-9a-zA-Z_-] (PROTOCOLS.md §3.3), unique per conversation and transcript
// entry. Transcript entry ids ("1700000000000-0", parts "….2") are unique
// only within their conversation, so a short hash of the conversation is
// appended: "1700000000000-0_2_3f9a0c1d". An empty entry id returns "" and
// WeCom assigns the msgid.
func OutboundMsgID(conversationID, entryID string) string {
	if entryID == "" {
		return ""
	}
	sum := sha1.Sum([]byte(conversationID + "\x00" + entryID))
	h := hex.EncodeToString(sum[:])
	id := strings.ReplaceAll(entryID, ".", "_") + "_" + h[:8]
	if msgIDPattern.MatchString(id) {
		return id
	}
	return "k" + h[:31]
}

// Window reports what the customer's 48-hour window allows now, for the kf
// account they last wrote to.
func (a *Account) Window(ctx context.Context, customer message.Party) (adapters.Window, error) {
	if a.windows == nil {
		return adapters.Window{}, errNotConnected
	}
	kf, err := a.ch.deps.Redis.Get(ctx, a.keys.lastKf(customer.ID)).Result()
	if errors.Is(err, redis.Nil) {
		return adapters.Window{Open: false, Reason: "no customer message within the reply window"}, nil
	}
	if err != nil {
		return adapters.Window{}, fmt.Errorf("checking kf window: %w", err)
	}
	return a.windows.Peek(ctx, a.windowKey(kf, customer.ID))
}
