package wechatoa

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/kefu-gateway/kefu/adapters"
	"github.com/kefu-gateway/kefu/adapters/internal/apiclient"
	"github.com/kefu-gateway/kefu/adapters/internal/window"
	"github.com/kefu-gateway/kefu/adapters/internal/wxaccount"
	"github.com/kefu-gateway/kefu/adapters/message"
	"go.uber.org/zap"
)

// reasonUnverified explains why an unverified account cannot send actively.
const reasonUnverified = "unverified official account: no customer-service API; replies wait for the customer's next message"

// Send delivers msg through the customer-service API (POST
// /cgi-bin/message/custom/send, PROTOCOLS.md §1.5), within the customer's
// reply window and quota. Outside them nothing is sent: the message goes as
// a template message when template_fallback is set, else Send fails with
// adapters.ErrWindowClosed or adapters.ErrQuotaExceeded (the outbox records
// it as undeliverable with the reason). The platform's 45015 and 45047 end
// the same way, and 45015 closes kefu's record of the window. An unverified
// account returns adapters.ErrDeferred: the router keeps the message for
// the customer's next one.
func (a *Account) Send(ctx context.Context, msg message.Message) (adapters.SendResult, error) {
	if !a.cfg.Verified {
		return adapters.SendResult{}, fmt.Errorf("%w (%s)", adapters.ErrDeferred, reasonUnverified)
	}
	if a.api == nil {
		return adapters.SendResult{}, errors.New("calling the customer-service API: account built without Redis")
	}
	to := msg.To.ID
	if to == "" {
		return adapters.SendResult{}, adapters.Permanent(errors.New("no recipient OpenID"))
	}
	text := wxaccount.TextOf(msg)
	if text == "" {
		return adapters.SendResult{}, nil // nothing WeChat could show
	}
	key := a.windowKey(to)
	w, err := a.window.Take(ctx, key)
	if err != nil {
		return adapters.SendResult{}, err
	}
	if !w.Open {
		cause := adapters.ErrWindowClosed
		if strings.Contains(w.Reason, "quota") {
			cause = adapters.ErrQuotaExceeded
		}
		return a.outsideWindow(ctx, msg, text, fmt.Errorf("%w (%s)", cause, w.Reason))
	}
	err = a.api.SendCustom(ctx, apiclient.CustomText(to, text))
	switch {
	case err == nil:
		return adapters.SendResult{}, nil
	case apiclient.IsWindowClosed(err):
		if cerr := a.window.Close(ctx, key); cerr != nil {
			a.log.Warn("closing the reply window failed", zap.Error(cerr))
		}
		return a.outsideWindow(ctx, msg, text, apiclient.SendError(err))
	case apiclient.IsQuotaExceeded(err):
		return a.outsideWindow(ctx, msg, text, apiclient.SendError(err))
	case apiclient.IsPermanent(err):
		return adapters.SendResult{}, apiclient.SendError(err)
	}
	// The message may not have reached WeChat: give its quota back for the
	// retry. Take uses the grant expiring first; the message grant is the
	// one that outlives a retry.
	if rerr := a.window.Refund(context.WithoutCancel(ctx), key, window.OAMessage.Kind); rerr != nil {
		a.log.Warn("refunding the reply quota failed", zap.Error(rerr))
	}
	return adapters.SendResult{}, err
}

// outsideWindow sends msg as a template message when the account has a
// fallback template, or returns refusal (a permanent error).
func (a *Account) outsideWindow(ctx context.Context, msg message.Message, text string, refusal error) (adapters.SendResult, error) {
	fb := &a.cfg.TemplateFallback
	if !fb.Enabled() {
		return adapters.SendResult{}, refusal
	}
	res, err := a.SendTemplate(ctx, msg.To, fb.TemplateID, fb.Render(text, a.now()), "")
	if err != nil {
		if errors.Is(err, adapters.ErrPermanent) {
			return adapters.SendResult{}, fmt.Errorf("%w; template fallback: %w", refusal, err)
		}
		return adapters.SendResult{}, err
	}
	a.countOut(string(msg.Kind), "template", 1)
	return res, nil
}

// Window reports what the customer's reply window allows now (the quota
// left and when it closes), without using any of it.
func (a *Account) Window(ctx context.Context, customer message.Party) (adapters.Window, error) {
	if !a.cfg.Verified {
		return adapters.Window{Open: false, Reason: reasonUnverified}, nil
	}
	if a.window == nil {
		return adapters.Window{}, fmt.Errorf("checking %s window: account built without Redis", Kind)
	}
	w, err := a.window.Peek(ctx, a.windowKey(customer.ID))
	if err != nil {
		return adapters.Window{}, fmt.Errorf("checking %s window: %w", Kind, err)
	}
	return w, nil
}

// SendTemplate sends a template message (POST /cgi-bin/message/template/send),
// which is not bound to the reply window. fields maps the template's field
// names to values; url, when set, is opened by a tap.
func (a *Account) SendTemplate(ctx context.Context, customer message.Party, templateID string, fields map[string]string, url string) (adapters.SendResult, error) {
	if !a.cfg.Verified || a.api == nil {
		return adapters.SendResult{}, adapters.Permanent(fmt.Errorf("sending %s template message: %s", Kind, reasonUnverified))
	}
	if customer.ID == "" || templateID == "" {
		return adapters.SendResult{}, adapters.Permanent(fmt.Errorf("sending %s template message: recipient and template id are required", Kind))
	}
	data := make(map[string]apiclient.TemplateValue, len(fields))
	for k, v := range fields {
		data[k] = apiclient.TemplateValue{Value: v}
	}
	id, err := a.api.SendTemplate(ctx, apiclient.TemplateMessage{ToUser: customer.ID, TemplateID: templateID, URL: url, Data: data})
	if err != nil {
		return adapters.SendResult{}, fmt.Errorf("sending %s template message: %w", Kind, apiclient.SendError(err))
	}
	return adapters.SendResult{PlatformID: strconv.FormatInt(id, 10)}, nil
}
