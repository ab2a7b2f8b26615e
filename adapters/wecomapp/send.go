package wecomapp

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/kefu-gateway/kefu/adapters"
	"github.com/kefu-gateway/kefu/adapters/internal/apiclient"
	"github.com/kefu-gateway/kefu/adapters/message"
	"go.uber.org/zap"
)

// ErrNotConnected is returned by sends of an account built for configuration
// validation only (no Redis, no API client).
var ErrNotConnected = errors.New("wecom app account has no API client")

// Send delivers msg to the member it is addressed to (msg.To.ID, else the
// member of its conversation) through message/send with the app's AgentId
// (PROTOCOLS.md §3.2). Text longer than 2048 bytes is split on UTF-8
// boundaries. Each message first books a slot under the per-member limit:
// a short wait (rate_limit.max_wait) happens in place; a longer one queues
// the message in a wecom_app:send_queued task scheduled for its slot, and
// Send returns with PlatformID "queued".
func (a *Account) Send(ctx context.Context, msg message.Message) (adapters.SendResult, error) {
	user := recipient(a.cfg.ID, msg)
	if user == "" {
		return adapters.SendResult{}, adapters.Permanent(fmt.Errorf("sending wecom app message: no recipient UserID"))
	}
	text, err := renderText(msg)
	if err != nil {
		return adapters.SendResult{}, adapters.Permanent(fmt.Errorf("sending wecom app message: %w", err))
	}
	job := queuedSend{
		Account: a.cfg.ID, ConversationID: msg.ConversationID, MessageID: msg.ID, User: user,
		Parts: message.SplitText(text, MaxTextBytes), BotOnly: msg.From.Role == message.RoleBot,
	}
	return a.deliver(ctx, job)
}

// SendText sends text to one member of the corp — an agent's WeCom UserID —
// through this app, under the same per-member limit as every other send.
// The handoff component calls it to notify agents; the message belongs to
// no customer conversation, so it goes out even while a human owns one.
func (a *Account) SendText(ctx context.Context, userID, text string) (adapters.SendResult, error) {
	return a.Send(ctx, message.Message{
		Channel: Kind, Account: a.cfg.ID, Kind: message.KindText, Text: text,
		From: message.Party{Role: message.RoleSystem}, To: message.Party{ID: userID, Role: message.RoleAgent},
	})
}

// recipient is the member a message goes to: its To party, else the peer of
// its conversation ("wecom_app:<account>:<userid>").
func recipient(account string, msg message.Message) string {
	if msg.To.ID != "" {
		return msg.To.ID
	}
	if rest, ok := strings.CutPrefix(msg.ConversationID, Kind+":"+account+":"); ok {
		return rest
	}
	return ""
}

// renderText turns a message into the text an app message carries. Cards
// become their title, description and link; other kinds need text.
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
		return "", fmt.Errorf("a %s message without text cannot be sent through a wecom app", msg.Kind)
	}
	return text, nil
}

// deliver sends the parts of job in order, booking a slot for each.
func (a *Account) deliver(ctx context.Context, job queuedSend) (adapters.SendResult, error) {
	if a.api == nil {
		return adapters.SendResult{}, ErrNotConnected
	}
	var last adapters.SendResult
	for i, part := range job.Parts {
		if i > 0 || !job.Reserved {
			at, err := a.limiter.Reserve(ctx, job.User)
			if err != nil {
				return last, err
			}
			if wait := at.Sub(a.ch.deps.Clock.Now()); wait > 0 {
				if wait > a.cfg.RateLimit.MaxWait {
					rest := job
					rest.Parts, rest.Reserved = job.Parts[i:], true
					if err := a.ch.enqueueQueued(ctx, rest, at); err != nil {
						return last, err
					}
					a.ch.countLimited(a.cfg.ID, "queued")
					a.ch.deps.Log.Info("wecom app message queued by the per-member send limit",
						zap.String("account", a.cfg.ID), zap.Duration("wait", wait), zap.Int("parts", len(rest.Parts)))
					return adapters.SendResult{PlatformID: QueuedPlatformID}, nil
				}
				a.ch.countLimited(a.cfg.ID, "waited")
				if err := sleep(ctx, wait); err != nil {
					return last, err
				}
			}
		}
		res, err := a.api.SendApp(ctx, apiclient.AppText(a.cfg.AgentID, job.User, part))
		if err != nil {
			return last, apiclient.SendError(err)
		}
		if res.InvalidUser != "" || res.UnlicensedUser != "" {
			return last, adapters.Permanent(fmt.Errorf("sending wecom app message: member %q is not reachable through app %d (invalid %q, unlicensed %q)",
				job.User, a.cfg.AgentID, res.InvalidUser, res.UnlicensedUser))
		}
		last = adapters.SendResult{PlatformID: res.MsgID}
	}
	return last, nil
}

// QueuedPlatformID is the SendResult.PlatformID of a message queued by the
// per-member limit; it leaves when its slot comes.
const QueuedPlatformID = "queued"

func (ch *Channel) countLimited(account, outcome string) {
	if ch.limited != nil {
		ch.limited.WithLabelValues(account, outcome).Inc()
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
