package wechatmp

import (
	"context"
	"net/http"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/kefu-gateway/kefu/adapters"
	"github.com/kefu-gateway/kefu/adapters/internal/window"
	"github.com/kefu-gateway/kefu/adapters/internal/wxaccount"
	"github.com/kefu-gateway/kefu/adapters/internal/wxmsg"
	"github.com/kefu-gateway/kefu/adapters/message"
	"go.uber.org/zap"
)

// verifyURL answers the console's URL check with echostr, as official
// accounts do (PROTOCOLS.md §2 "Same GET verification as OA").
func (ch *Channel) verifyURL(c *fiber.Ctx) error {
	a, ok := ch.accounts[c.Params("id")]
	if !ok {
		return c.Status(fiber.StatusNotFound).SendString("unknown account")
	}
	echo, err := wxaccount.VerifyURL(c, a.crypter)
	if err != nil {
		return a.refuse(c, err)
	}
	a.log.Info("message push URL verified")
	c.Set(fiber.HeaderContentType, fiber.MIMETextPlainCharsetUTF8)
	return c.SendString(echo)
}

// receive handles one push: verify, decrypt, parse, hand to the router,
// acknowledge.
func (ch *Channel) receive(c *fiber.Ctx) error {
	a, ok := ch.accounts[c.Params("id")]
	if !ok {
		return c.Status(fiber.StatusNotFound).SendString("unknown account")
	}
	arrived := time.Now()
	opened, err := wxaccount.OpenPush(c, a.crypter, a.cfg.Encryption, a.bodyLimit, a.format)
	if err != nil {
		return a.refuse(c, err)
	}
	msg, err := wxmsg.ParseMP(a.src, opened.Plain, a.format)
	if err != nil {
		return a.refuse(c, err)
	}
	return a.accept(c, msg, arrived)
}

func (a *Account) refuse(c *fiber.Ctx, err error) error {
	status := wxaccount.StatusOf(err)
	a.log.Info("push refused", zap.Int("status", status), zap.Error(err))
	return c.Status(status).SendString(http.StatusText(status))
}

// accept hands msg to the router and acknowledges the push with `success`
// (PROTOCOLS.md §2: replies go through the send API). It waits up to
// ack_wait to learn whether the router could take the message; if it
// failed (Redis unreachable), the push gets a 500 and WeChat retries.
//
// The reply window the message opens is stored first (in one pipeline with
// other work arriving at once, see window.Tracker.ArmAsync): every answer
// goes through the send API, and a fast one must not reach it before its
// window exists.
func (a *Account) accept(c *fiber.Ctx, msg message.Message, arrived time.Time) error {
	ctx := c.UserContext()
	if armed := a.arm(ctx, msg); armed != nil {
		if aerr := armed(); aerr != nil {
			a.log.Warn("recording the reply window failed", zap.Error(aerr))
		}
	}
	return a.take(c, msg, arrived)
}

func (a *Account) take(c *fiber.Ctx, msg message.Message, arrived time.Time) error {
	ctx := c.UserContext()
	turn, err := a.inbound.Accept(ctx, msg)
	if err != nil {
		a.log.Error("accepting message failed", zap.Error(err))
		return c.Status(fiber.StatusInternalServerError).SendString("temporarily unavailable")
	}
	dup, known := wxaccount.WaitDuplicate(turn, arrived.Add(a.cfg.AckWait))
	if known && !dup {
		select {
		case <-turn.Done():
			if turn.Err() != nil {
				return c.Status(fiber.StatusInternalServerError).SendString("temporarily unavailable")
			}
		default:
			if a.cfg.Typing && msg.Kind != message.KindEvent {
				go a.typingWhileSlow(context.WithoutCancel(ctx), turn, msg.From.ID)
			}
		}
	}
	return c.SendString(wxmsg.Success)
}

// arm records the reply window the customer's action opens: a message
// allows 5 messages within 48 h, entering the chat 2 within a minute
// (PROTOCOLS.md §2). The returned function waits for the outcome; nil when
// there is nothing to record.
func (a *Account) arm(ctx context.Context, msg message.Message) (wait func() error) {
	if a.window == nil {
		return nil
	}
	key := a.windowKey(msg.From.ID)
	at := wxaccount.ActionTime(msg.Timestamp, a.clock.Now(), a.cfg.MaxSkew)
	switch {
	case msg.Kind != message.KindEvent:
		return a.window.ArmAsync(ctx, window.Arming{Key: key, Grant: window.MPMessage, At: at, Source: msg.ID})
	case msg.Event != nil && msg.Event.Type == message.EventEnterSession:
		return a.window.ArmAsync(ctx, window.Arming{Key: key, Grant: window.MPEnterSession, At: at, Source: msg.ID})
	}
	return nil
}

// typingWhileSlow shows the typing indicator when the answer takes longer
// than typing_after.
func (a *Account) typingWhileSlow(ctx context.Context, turn adapters.Turn, openID string) {
	if a.api == nil {
		return
	}
	timer := time.NewTimer(a.cfg.TypingAfter)
	defer timer.Stop()
	select {
	case <-turn.Done():
		return
	case <-timer.C:
	}
	ctx, cancel := context.WithTimeout(ctx, a.cfg.APITimeout)
	defer cancel()
	if err := a.api.SetTyping(ctx, openID, true); err != nil {
		a.log.Info("showing the typing indicator failed", zap.Error(err))
	}
}
