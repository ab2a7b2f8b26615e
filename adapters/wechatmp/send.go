package wechatmp

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/kefu-gateway/kefu/adapters"
	"github.com/kefu-gateway/kefu/adapters/internal/apiclient"
	"github.com/kefu-gateway/kefu/adapters/internal/window"
	"github.com/kefu-gateway/kefu/adapters/internal/wxaccount"
	"github.com/kefu-gateway/kefu/adapters/message"
	"go.uber.org/zap"
)

// Send delivers msg through the customer-service API (POST
// /cgi-bin/message/custom/send, PROTOCOLS.md §2): a link card as a link
// message, anything else as text. It stays within the customer's window
// and quota; outside them nothing is sent: the message goes as a subscribe
// message when subscribe_fallback is set, else Send fails with
// adapters.ErrWindowClosed or adapters.ErrQuotaExceeded, which the outbox
// records as undeliverable with the reason. The platform's 45015 and 45047
// end the same way; 45015 closes kefu's record of the window.
func (a *Account) Send(ctx context.Context, msg message.Message) (adapters.SendResult, error) {
	if a.api == nil {
		return adapters.SendResult{}, errors.New("calling the customer-service API: account built without Redis")
	}
	to := msg.To.ID
	if to == "" {
		return adapters.SendResult{}, adapters.Permanent(errors.New("no recipient OpenID"))
	}
	out, text, ok := customMessage(to, msg)
	if !ok {
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
	err = a.api.SendCustom(ctx, out)
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
	// retry (to the message grant, the one that outlives a retry).
	if rerr := a.window.Refund(context.WithoutCancel(ctx), key, window.MPMessage.Kind); rerr != nil {
		a.log.Warn("refunding the reply quota failed", zap.Error(rerr))
	}
	return adapters.SendResult{}, err
}

// customMessage renders msg for the API: a card with a URL as a link
// message (mini-program chats do not open links in text), anything else as
// text. ok is false when there is nothing to show.
func customMessage(to string, msg message.Message) (apiclient.CustomMessage, string, bool) {
	if c := msg.Card; c != nil && c.URL != "" && strings.TrimSpace(msg.Text) == "" {
		link := &apiclient.Link{Title: c.Title, Description: c.Description, URL: c.URL, ThumbURL: c.PicURL}
		return apiclient.CustomMessage{ToUser: to, MsgType: "link", Link: link}, c.Title, true
	}
	text := wxaccount.TextOf(msg)
	if text == "" {
		return apiclient.CustomMessage{}, "", false
	}
	return apiclient.CustomText(to, text), text, true
}

// outsideWindow sends msg as a subscribe message when the account has a
// fallback, or returns refusal (a permanent error).
func (a *Account) outsideWindow(ctx context.Context, msg message.Message, text string, refusal error) (adapters.SendResult, error) {
	fb := &a.cfg.SubscribeFallback
	if !fb.Enabled() {
		return adapters.SendResult{}, refusal
	}
	res, err := a.SendTemplate(ctx, msg.To, fb.TemplateID, fb.Render(text, a.clock.Now()), fb.Page)
	if err != nil {
		if errors.Is(err, adapters.ErrPermanent) {
			return adapters.SendResult{}, fmt.Errorf("%w; subscribe fallback: %w", refusal, err)
		}
		return adapters.SendResult{}, err
	}
	a.countOut(string(msg.Kind), "template")
	return res, nil
}

// Window reports what the customer's reply window allows now, without
// using any of it.
func (a *Account) Window(ctx context.Context, customer message.Party) (adapters.Window, error) {
	if a.window == nil {
		return adapters.Window{}, fmt.Errorf("checking %s window: account built without Redis", Kind)
	}
	w, err := a.window.Peek(ctx, a.windowKey(customer.ID))
	if err != nil {
		return adapters.Window{}, fmt.Errorf("checking %s window: %w", Kind, err)
	}
	return w, nil
}

// SendTemplate sends a subscribe message (POST
// /cgi-bin/message/subscribe/send), which is not bound to the reply window
// but to the customer's consent to the template. fields maps the
// template's field names to values; url is the mini-program page a tap
// opens.
func (a *Account) SendTemplate(ctx context.Context, customer message.Party, templateID string, fields map[string]string, url string) (adapters.SendResult, error) {
	if a.api == nil {
		return adapters.SendResult{}, fmt.Errorf("sending %s subscribe message: account built without Redis", Kind)
	}
	if customer.ID == "" || templateID == "" {
		return adapters.SendResult{}, adapters.Permanent(fmt.Errorf("sending %s subscribe message: recipient and template id are required", Kind))
	}
	data := make(map[string]apiclient.SubscribeValue, len(fields))
	for k, v := range fields {
		data[k] = apiclient.SubscribeValue{Value: v}
	}
	err := a.api.SendSubscribe(ctx, apiclient.SubscribeMessage{
		ToUser: customer.ID, TemplateID: templateID, Page: url, MiniProgramState: a.cfg.SubscribeFallback.State, Lang: "zh_CN", Data: data,
	})
	if err != nil {
		return adapters.SendResult{}, fmt.Errorf("sending %s subscribe message: %w", Kind, apiclient.SendError(err))
	}
	return adapters.SendResult{}, nil
}
