package dingtalk

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/kefu-gateway/kefu/adapters"
	"github.com/kefu-gateway/kefu/adapters/internal/apiclient"
	"github.com/kefu-gateway/kefu/adapters/message"
	"go.uber.org/zap"
)

// ErrNotConnected is returned by sends of an account built for configuration
// validation only (no Redis, no API client).
var ErrNotConnected = errors.New("dingtalk account has no API client")

// Send answers through the message's sessionWebhook while it lives (no
// access token needed), and after it has expired — or when DingTalk refuses
// it — through the robot OpenAPI: batchSend to the staff id in a 1:1 chat,
// a group send with robot_code and openConversationId in a group
// (PROTOCOLS.md §4.1). Markdown messages go as markdown, others as text.
// Messages without routing data (deliveries outside a turn) use the
// conversation's latest route, saved on each inbound message.
func (a *Account) Send(ctx context.Context, msg message.Message) (adapters.SendResult, error) {
	if a.api == nil {
		return adapters.SendResult{}, ErrNotConnected
	}
	r := routeOf(msg)
	if !r.complete() || r.Webhook == "" {
		saved, ok, err := a.loadRoute(ctx, msg.ConversationID)
		if err != nil {
			return adapters.SendResult{}, fmt.Errorf("sending dingtalk message: %w", err)
		}
		if ok && (!r.complete() || saved.WebhookExpires.After(r.WebhookExpires)) {
			r = saved
		}
	}
	if !r.complete() {
		return adapters.SendResult{}, adapters.Permanent(fmt.Errorf("sending dingtalk message: no route for conversation %q", msg.ConversationID))
	}
	text := renderText(msg)
	if strings.TrimSpace(text) == "" {
		return adapters.SendResult{}, adapters.Permanent(fmt.Errorf("sending dingtalk message: a %s message without text", msg.Kind))
	}

	if r.Webhook != "" && a.ch.deps.Clock.Now().Add(a.cfg.WebhookMargin).Before(r.WebhookExpires) {
		wm := apiclient.WebhookText(text)
		if msg.Markdown {
			wm = apiclient.WebhookMarkdownMessage(markdownTitle(text), text)
		}
		err := a.api.ReplySession(ctx, r.Webhook, wm)
		if err == nil {
			return adapters.SendResult{}, nil
		}
		if apiclient.IsTransient(err) {
			return adapters.SendResult{}, fmt.Errorf("sending dingtalk message: %w", err)
		}
		a.ch.deps.Log.Info("dingtalk session webhook refused; sending through the OpenAPI", zap.String("account", a.cfg.ID), zap.Error(err))
	}

	rm := apiclient.RobotText(text)
	if msg.Markdown {
		rm = apiclient.RobotMarkdown(markdownTitle(text), text)
	}
	robot := r.RobotCode
	if a.cfg.RobotCode != "" || robot == "" {
		robot = a.cfg.robotCode()
	}
	if r.Group {
		key, err := a.api.SendToGroup(ctx, robot, r.ConversationID, rm)
		if err != nil {
			return adapters.SendResult{}, apiclient.SendError(err)
		}
		return adapters.SendResult{PlatformID: key}, nil
	}
	res, err := a.api.SendToUsers(ctx, robot, []string{r.StaffID}, rm)
	if err != nil {
		return adapters.SendResult{}, apiclient.SendError(err)
	}
	if len(res.InvalidStaffIDList) > 0 {
		return adapters.SendResult{}, adapters.Permanent(fmt.Errorf("sending dingtalk message: staff id %q is not valid for robot %q", r.StaffID, robot))
	}
	if len(res.FlowControlledStaffIDList) > 0 {
		return adapters.SendResult{}, fmt.Errorf("sending dingtalk message: flow-controlled by DingTalk for %q; retrying later", r.StaffID)
	}
	return adapters.SendResult{PlatformID: res.ProcessQueryKey}, nil
}

// renderText is the message's text, with a card's title, description and
// link appended.
func renderText(msg message.Message) string {
	text := msg.Text
	if c := msg.Card; c != nil {
		parts := []string{}
		for _, s := range []string{text, c.Title, c.Description, c.URL} {
			if s = strings.TrimSpace(s); s != "" {
				parts = append(parts, s)
			}
		}
		text = strings.Join(parts, "\n")
	}
	return text
}

// markdownTitle is the notification title of a markdown message: its first
// line without markdown marks, at most 20 characters.
func markdownTitle(text string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(text), "\n")
	line = strings.TrimSpace(strings.TrimLeft(line, "#>*-_` "))
	line = strings.NewReplacer("**", "", "__", "", "`", "").Replace(line)
	if utf8.RuneCountInString(line) > 20 {
		line = string([]rune(line)[:20]) + "…"
	}
	if line == "" {
		line = "消息"
	}
	return line
}
