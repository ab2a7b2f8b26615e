package wechatoa

import (
	"context"
	"net/http"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/kefu-gateway/kefu/adapters/internal/window"
	"github.com/kefu-gateway/kefu/adapters/internal/wxaccount"
	"github.com/kefu-gateway/kefu/adapters/internal/wxcrypto"
	"github.com/kefu-gateway/kefu/adapters/internal/wxmsg"
	"github.com/kefu-gateway/kefu/adapters/message"
	"go.uber.org/zap"
)

// verifyURL answers the console's URL check: the plain signature over
// token, timestamp and nonce, then echostr verbatim — in every mode
// (PROTOCOLS.md §1.1).
func (ch *Channel) verifyURL(c *fiber.Ctx) error {
	a, ok := ch.accounts[c.Params("id")]
	if !ok {
		return c.Status(fiber.StatusNotFound).SendString("unknown account")
	}
	echo, err := wxaccount.VerifyURL(c, a.crypter)
	if err != nil {
		return a.refuse(c, err)
	}
	a.log.Info("callback URL verified")
	c.Set(fiber.HeaderContentType, fiber.MIMETextPlainCharsetUTF8)
	return c.SendString(echo)
}

// receive handles one push: verify, decrypt, parse, answer.
func (ch *Channel) receive(c *fiber.Ctx) error {
	a, ok := ch.accounts[c.Params("id")]
	if !ok {
		return c.Status(fiber.StatusNotFound).SendString("unknown account")
	}
	arrived := time.Now()
	opened, err := wxaccount.OpenPush(c, a.crypter, a.cfg.Encryption, a.bodyLimit, wxcrypto.FormatXML)
	if err != nil {
		return a.refuse(c, err)
	}
	msg, err := wxmsg.ParseOA(a.src, opened.Plain)
	if err != nil {
		return a.refuse(c, err)
	}
	return a.answer(c, msg, opened.Encrypted, arrived)
}

// refuse answers a request kefu does not process. The error names what
// failed, never a secret or the body.
func (a *Account) refuse(c *fiber.Ctx, err error) error {
	status := wxaccount.StatusOf(err)
	a.log.Info("callback refused", zap.Int("status", status), zap.Error(err))
	return c.Status(status).SendString(http.StatusText(status))
}

// answer hands msg to the router and replies: passively when the answer is
// ready within the budget, otherwise with `success` (verified) or the
// deferred hint (unverified). WeChat shows "该公众号暂时无法提供服务" for
// anything else, including a late answer (PROTOCOLS.md §1.2).
//
// The reply window the message opens is recorded meanwhile (in one pipeline
// with other work arriving at once, see window.Tracker.ArmAsync) and stored
// before the response leaves: anything the router sends actively for this
// message comes after it.
func (a *Account) answer(c *fiber.Ctx, msg message.Message, encrypted bool, arrived time.Time) error {
	armed := a.arm(c.UserContext(), msg)
	err := a.respond(c, msg, encrypted, arrived)
	if armed != nil {
		if aerr := armed(); aerr != nil {
			a.log.Warn("recording the reply window failed", zap.Error(aerr))
		}
	}
	return err
}

func (a *Account) respond(c *fiber.Ctx, msg message.Message, encrypted bool, arrived time.Time) error {
	deadline := arrived.Add(a.cfg.PassiveBudget)
	msg.Reply.PassiveDeadline = deadline
	ctx := c.UserContext()
	turn, err := a.inbound.Accept(ctx, msg)
	if err != nil {
		a.log.Error("accepting message failed", zap.Error(err))
		return c.Status(fiber.StatusInternalServerError).SendString("temporarily unavailable")
	}
	dup, known := wxaccount.WaitDuplicate(turn, deadline)
	if dup {
		// A retry of a message being (or already) answered: the first
		// attempt owns the answer (PROTOCOLS.md §1.2 dedup).
		return c.SendString(wxmsg.Success)
	}
	var replies []message.Message
	ready := false
	if known {
		replies, ready = turn.TakePassive(ctx, time.Until(deadline))
	}
	if !ready {
		if a.cfg.Verified {
			if known && a.cfg.Typing && msg.Kind != message.KindEvent {
				go a.showTyping(context.WithoutCancel(ctx), msg.From.ID)
			}
			return c.SendString(wxmsg.Success)
		}
		// No API to send the answer later: say so now; the router keeps
		// the answer for the customer's next message (ErrDeferred).
		return a.reply(c, &msg, encrypted, a.cfg.DeferredHint)
	}
	if err := turn.Err(); err != nil {
		// WeChat retries a 5xx; the retry finds the message unseen when the
		// failure came before the dedup mark.
		return c.Status(fiber.StatusInternalServerError).SendString("temporarily unavailable")
	}
	hint := ""
	if !a.cfg.Verified {
		hint = a.cfg.MoreHint
	}
	text, carried, rest := fitPassive(replies, a.cfg.maxText(), hint)
	if text == "" {
		if len(rest) > 0 {
			turn.Return(rest)
		}
		return c.SendString(wxmsg.Success)
	}
	out, err := a.render(&msg, encrypted, text)
	if err != nil {
		turn.Return(replies)
		return c.SendString(wxmsg.Success)
	}
	a.countOut(string(message.KindText), "passive", carried)
	c.Set(fiber.HeaderContentType, "text/xml; charset=utf-8")
	if len(rest) > 0 {
		writeThenReturn(c, out, turn, replies, rest)
		return nil
	}
	return c.Send(out)
}

// reply writes a passive text reply that carries no reply of a turn.
func (a *Account) reply(c *fiber.Ctx, in *message.Message, encrypted bool, text string) error {
	out, err := a.render(in, encrypted, text)
	if err != nil {
		return c.SendString(wxmsg.Success)
	}
	c.Set(fiber.HeaderContentType, "text/xml; charset=utf-8")
	return c.Send(out)
}

// render builds a passive text reply to in (PROTOCOLS.md §1.3), sealed when
// the push was encrypted (§1.1).
func (a *Account) render(in *message.Message, encrypted bool, text string) ([]byte, error) {
	now := a.now()
	out := wxmsg.ReplyText(in, text, now)
	if !encrypted {
		return out, nil
	}
	env, err := a.crypter.Seal(out, now)
	if err != nil {
		a.log.Error("sealing passive reply failed", zap.Error(err))
		return nil, err
	}
	return env.XML(), nil
}

// arm records the reply window the customer's action opens (PROTOCOLS.md
// §1.5): a message allows 5 messages within 48 h; a menu click, a follow or
// a QR scan 3 within a minute. An unfollow closes it. Unverified accounts
// have no active API and track nothing. The returned function waits for
// the outcome; nil when there is nothing to record.
func (a *Account) arm(ctx context.Context, msg message.Message) (wait func() error) {
	if !a.cfg.Verified || a.window == nil {
		return nil
	}
	key := a.windowKey(msg.From.ID)
	at := wxaccount.ActionTime(msg.Timestamp, a.clock.Now(), a.cfg.MaxSkew)
	switch {
	case msg.Kind != message.KindEvent:
		return a.window.ArmAsync(ctx, window.Arming{Key: key, Grant: window.OAMessage, At: at, Source: msg.ID})
	case msg.Event == nil:
	case msg.Event.Type == message.EventUnsubscribe:
		if err := a.window.Close(ctx, key); err != nil {
			a.log.Warn("closing the reply window failed", zap.Error(err))
		}
	case grantsEventWindow(msg.Event.Type):
		return a.window.ArmAsync(ctx, window.Arming{Key: key, Grant: window.OAEvent, At: at, Source: msg.ID})
	}
	return nil
}

// grantsEventWindow reports the events that open the 3-per-minute window:
// following, scanning a QR code, and the menu clicks click, scancode_push
// and scancode_waitmsg (PROTOCOLS.md §1.5).
func grantsEventWindow(event string) bool {
	switch event {
	case message.EventSubscribe, message.EventScan, message.EventClick, "scancode_push", "scancode_waitmsg":
		return true
	}
	return false
}

// showTyping shows the typing indicator while the answer is prepared. It
// runs on its own (ctx outlives the request): the callback has already been
// answered.
func (a *Account) showTyping(ctx context.Context, openID string) {
	if a.api == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, a.cfg.APITimeout)
	defer cancel()
	if err := a.api.SetTyping(ctx, openID, true); err != nil {
		a.log.Info("showing the typing indicator failed", zap.Error(err))
	}
}
