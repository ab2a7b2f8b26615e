package dingtalk

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/gofiber/fiber/v2"
	"github.com/kefu-gateway/kefu/adapters/internal/dingmsg"
	"github.com/kefu-gateway/kefu/adapters/internal/wxcrypto"
	"github.com/kefu-gateway/kefu/adapters/message"
	"go.uber.org/zap"
)

// callback handles an HTTP-mode robot callback: the timestamp and sign
// headers are verified (HmacSHA256 of timestamp + "\n" + AppSecret, within
// sign_window of the local clock: PROTOCOLS.md §4.1), the JSON body parsed
// (the @mention left out), and the message handed to the router. The
// request is answered with an empty 200 at once; the answer goes out through
// the message's sessionWebhook, or the robot OpenAPI once it expires.
func (ch *Channel) callback(c *fiber.Ctx) error {
	a, ok := ch.accounts[c.Params("id")]
	if !ok || a.cfg.Mode != ModeHTTP {
		// A stream-mode robot receives nothing over HTTP.
		return c.Status(fiber.StatusNotFound).SendString("unknown dingtalk account")
	}
	msg, err := a.openRequest(c.Get("timestamp"), c.Get("sign"), c.Body())
	if err != nil {
		status := StatusOf(err)
		ch.deps.Log.Warn("refused dingtalk request", zap.String("account", a.cfg.ID), zap.Int("status", status), zap.Error(err))
		return c.Status(status).SendString(http.StatusText(status))
	}
	if err := a.accept(c.UserContext(), msg); err != nil {
		ch.deps.Log.Error("accepting dingtalk message failed", zap.String("account", a.cfg.ID), zap.Error(err))
		return c.SendStatus(fiber.StatusServiceUnavailable)
	}
	c.Status(fiber.StatusOK)
	return nil
}

// openRequest verifies and parses an HTTP-mode callback. Nothing is parsed
// unless the sign verifies.
func (a *Account) openRequest(timestamp, sign string, body []byte) (message.Message, error) {
	if limit := a.ch.deps.BodyLimit; limit > 0 && len(body) > limit {
		return message.Message{}, fmt.Errorf("%w: body of %d bytes", dingmsg.ErrTooLarge, len(body))
	}
	if err := dingmsg.VerifySign(timestamp, sign, a.cfg.AppSecret, a.ch.deps.Clock.Now(), a.cfg.SignWindow); err != nil {
		return message.Message{}, err
	}
	return dingmsg.Parse(a.src, body)
}

// accept records where to answer the message and hands it to the router.
// Both modes end here.
func (a *Account) accept(ctx context.Context, msg message.Message) error {
	if err := a.saveRoute(ctx, msg); err != nil {
		return err
	}
	// Accept returns at once; the router drops redeliveries by msgId. Its
	// Turn is not waited on: with a merge window even learning whether the
	// message is a duplicate takes that long, and DingTalk wants its ack now.
	_, err := a.ch.deps.Inbound.Accept(ctx, msg)
	return err
}

// StatusOf maps a callback error onto its HTTP status: a missing, stale or
// wrong sign is 401 (CONTRACT.md "HTTP endpoints"), an oversized body 413,
// anything else malformed 400.
func StatusOf(err error) int {
	switch {
	case wxcrypto.IsAuthFailure(err), errors.Is(err, dingmsg.ErrMissingHeader):
		return fiber.StatusUnauthorized
	case errors.Is(err, dingmsg.ErrTooLarge):
		return fiber.StatusRequestEntityTooLarge
	}
	return fiber.StatusBadRequest
}
