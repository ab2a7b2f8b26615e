package wecomapp

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/gofiber/fiber/v2"
	"github.com/kefu-gateway/kefu/adapters/internal/wxaccount"
	"github.com/kefu-gateway/kefu/adapters/internal/wxcrypto"
	"github.com/kefu-gateway/kefu/adapters/internal/wxmsg"
	"github.com/kefu-gateway/kefu/adapters/message"
	"go.uber.org/zap"
)

// verifyURL answers the URL check WeCom makes when the callback URL is saved
// in the admin console: GET ?msg_signature&timestamp&nonce&echostr. The
// echostr is verified and decrypted, and its plaintext written back within
// 1 s with no quotes, BOM or newline (PROTOCOLS.md §3.1).
func (ch *Channel) verifyURL(c *fiber.Ctx) error {
	a, ok := ch.accounts[c.Params("id")]
	if !ok {
		return c.Status(fiber.StatusNotFound).SendString("unknown wecom_app account")
	}
	q, err := wxaccount.ParseQuery(c)
	if err == nil {
		var echo []byte
		if echo, err = a.crypter.OpenEcho(q); err == nil {
			c.Set(fiber.HeaderContentType, fiber.MIMETextPlainCharsetUTF8)
			return c.Send(echo)
		}
	}
	return ch.refuse(c, a, "verifying wecom app callback URL", err)
}

// callback handles a POSTed message or event: verify msg_signature, decrypt
// (receive id = CorpID), parse, hand to the router, and answer an empty 200
// at once. Replies go out through message/send; WeCom's encrypted passive
// reply is optional and not used (PROTOCOLS.md §3.1: "return 200 with empty
// body and send async").
func (ch *Channel) callback(c *fiber.Ctx) error {
	a, ok := ch.accounts[c.Params("id")]
	if !ok {
		return c.Status(fiber.StatusNotFound).SendString("unknown wecom_app account")
	}
	msg, err := a.open(c)
	if err != nil {
		return ch.refuse(c, a, "opening wecom app callback", err)
	}
	ctx := c.UserContext()
	// Accept returns at once and the router drops retries by MsgId; the
	// Turn is not waited on (with a merge window even learning whether the
	// message is a retry takes that long).
	if _, err := ch.deps.Inbound.Accept(ctx, msg); err != nil {
		ch.deps.Log.Error("accepting wecom app message failed", zap.String("account", a.cfg.ID), zap.Error(err))
		// Any status but 200 makes WeCom retry the push (PROTOCOLS.md §3.1).
		return c.SendStatus(fiber.StatusServiceUnavailable)
	}
	// An empty body: WeCom shows nothing and expects nothing more.
	c.Status(fiber.StatusOK)
	return nil
}

// open verifies, decrypts and parses a callback request.
func (a *Account) open(c *fiber.Ctx) (message.Message, error) {
	q, err := wxaccount.ParseQuery(c)
	if err != nil {
		return message.Message{}, err
	}
	return a.openRequest(q, c.Body())
}

// openRequest is the pure part of a callback: query and body in, message
// out. Nothing is parsed unless msg_signature verifies.
func (a *Account) openRequest(q wxcrypto.Query, body []byte) (message.Message, error) {
	if limit := a.ch.deps.BodyLimit; limit > 0 && len(body) > limit {
		return message.Message{}, fmt.Errorf("%w: body of %d bytes", wxcrypto.ErrTooLarge, len(body))
	}
	opened, err := a.crypter.OpenRequest(q, body, wxcrypto.FormatXML)
	if err != nil {
		return message.Message{}, err
	}
	msg, err := wxmsg.ParseWeComApp(a.src, opened.Plain)
	if err != nil {
		return message.Message{}, err
	}
	return msg, nil
}

// refuse answers a request that cannot be processed: 401 for requests that
// are not authentic, 413 for oversized ones, 400 for malformed ones
// (CONTRACT.md "HTTP endpoints"). Nothing about the request runs a flow.
func (ch *Channel) refuse(c *fiber.Ctx, a *Account, what string, err error) error {
	status := StatusOf(err)
	ch.deps.Log.Warn("refused wecom app request", zap.String("account", a.cfg.ID), zap.String("step", what),
		zap.Int("status", status), zap.Error(err))
	return c.Status(status).SendString(http.StatusText(status))
}

// StatusOf maps a callback error onto its HTTP status.
func StatusOf(err error) int {
	switch {
	case wxcrypto.IsAuthFailure(err):
		return fiber.StatusUnauthorized
	case errors.Is(err, wxcrypto.ErrTooLarge), errors.Is(err, wxmsg.ErrTooLarge):
		return fiber.StatusRequestEntityTooLarge
	}
	return fiber.StatusBadRequest
}
