package wecomkf

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/kefu-gateway/kefu/adapters/internal/wxaccount"
	"github.com/kefu-gateway/kefu/adapters/internal/wxcrypto"
	"github.com/kefu-gateway/kefu/adapters/internal/wxmsg"
	"go.uber.org/zap"
)

// callbackTokenTTL is how long a callback's token may be passed to sync_msg
// (PROTOCOLS.md §3.3: "valid 10 min").
const callbackTokenTTL = 10 * time.Minute

// allKfIDs stands for "every kf account" in keys and task ids when a callback
// names no open_kfid.
const allKfIDs = "_all"

// verifyURL answers the URL check made when the callback URL is saved
// (微信客服 → API): msg_signature over the encrypted echostr is verified and
// the plaintext written back as is (PROTOCOLS.md §3.1, §3.3).
func (ch *Channel) verifyURL(c *fiber.Ctx) error {
	a, ok := ch.accounts[c.Params("id")]
	if !ok {
		return c.Status(fiber.StatusNotFound).SendString("unknown wecom_kf account")
	}
	q, err := wxaccount.ParseQuery(c)
	if err == nil {
		var echo []byte
		if echo, err = a.crypter.OpenEcho(q); err == nil {
			c.Set(fiber.HeaderContentType, fiber.MIMETextPlainCharsetUTF8)
			return c.Send(echo)
		}
	}
	return ch.refuse(c, a, "verifying wecom kf callback URL", err)
}

// callback handles the kf_msg_or_event notification. It carries no message:
// the messages are pulled with sync_msg by a worker, never here, so the
// callback answers at once (LESSONS.md: pulling inside the callback runs past
// 5 s and causes retries and duplicates). The callback's token is kept for the
// pull, and a sync task is enqueued under one id per kf account, so a burst
// of callbacks coalesces into one pull.
func (ch *Channel) callback(c *fiber.Ctx) error {
	a, ok := ch.accounts[c.Params("id")]
	if !ok {
		return c.Status(fiber.StatusNotFound).SendString("unknown wecom_kf account")
	}
	q, err := wxaccount.ParseQuery(c)
	if err != nil {
		return ch.refuse(c, a, "opening wecom kf callback", err)
	}
	cb, err := a.openCallback(q, c.Body())
	if err != nil {
		return ch.refuse(c, a, "opening wecom kf callback", err)
	}
	if !cb.IsMsgOrEvent() {
		ch.deps.Log.Debug("ignoring wecom kf callback event", zap.String("account", a.cfg.ID), zap.String("event", cb.Event))
		c.Status(fiber.StatusOK)
		return nil
	}
	kf := cb.OpenKfID
	if kf == "" {
		kf = allKfIDs
	} else if !a.cfg.allows(kf) {
		ch.deps.Log.Debug("ignoring wecom kf callback for an unlisted kf account", zap.String("account", a.cfg.ID), zap.String("open_kfid", kf))
		c.Status(fiber.StatusOK)
		return nil
	}
	if err := a.announce(c.UserContext(), kf, cb.Token); err != nil {
		if ch.deps.Metrics != nil {
			ch.deps.Metrics.Errors.WithLabelValues(Kind).Inc()
		}
		ch.deps.Log.Error("scheduling wecom kf pull failed", zap.String("account", a.cfg.ID), zap.Error(err))
		// Any status but 200 makes WeCom send the callback again.
		return c.SendStatus(fiber.StatusServiceUnavailable)
	}
	c.Status(fiber.StatusOK)
	return nil
}

// openCallback verifies, decrypts and parses a callback body. Nothing is
// parsed unless msg_signature verifies (silenceper's kf callback decoding
// skips that check; PROTOCOLS.md §6).
func (a *Account) openCallback(q wxcrypto.Query, body []byte) (wxmsg.KFCallback, error) {
	if limit := a.ch.deps.BodyLimit; limit > 0 && len(body) > limit {
		return wxmsg.KFCallback{}, fmt.Errorf("%w: body of %d bytes", wxcrypto.ErrTooLarge, len(body))
	}
	opened, err := a.crypter.OpenRequest(q, body, wxcrypto.FormatXML)
	if err != nil {
		return wxmsg.KFCallback{}, err
	}
	return wxmsg.ParseKFCallback(opened.Plain)
}

// announce records that messages wait for kf and schedules a pull: the
// callback counter goes up (the worker compares it with what its last
// complete pull covered), the token is kept for sync_msg, and a sync task
// is enqueued.
func (a *Account) announce(ctx context.Context, kf, token string) error {
	pipe := a.ch.deps.Redis.TxPipeline()
	pipe.Incr(ctx, a.keys.sync(kf, "seq"))
	pipe.Set(ctx, a.keys.sync(kf, "token"), token, callbackTokenTTL)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("recording wecom kf callback: %w", err)
	}
	return a.ch.enqueueSync(ctx, a.cfg.ID, kf)
}

// refuse answers a request that cannot be processed: 401 for requests that
// are not authentic, 413 for oversized ones, 400 for malformed ones
// (CONTRACT.md "HTTP endpoints"). Nothing is pulled for such a request.
func (ch *Channel) refuse(c *fiber.Ctx, a *Account, what string, err error) error {
	status := StatusOf(err)
	ch.deps.Log.Warn("refused wecom kf request", zap.String("account", a.cfg.ID), zap.String("step", what),
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
