package router

import (
	"context"
	"strconv"
	"time"

	"github.com/kefu-gateway/kefu/adapters"
	"github.com/kefu-gateway/kefu/adapters/message"
	"github.com/kefu-gateway/kefu/workers"
	"go.uber.org/zap"
)

// outbox fits replies to their channel and sends the ones no passive
// response carried through the channel's active API, via an asynq task.
type outbox struct {
	r *Router
}

// render fits replies to the channel: choices become a numbered menu where
// there are no buttons, and text longer than the channel allows is split on
// UTF-8 boundaries into parts sent in order. Part n>1 of entry id gets the
// id "<id>.<n>" so every outbound message has its own id.
func (o *outbox) render(caps adapters.Capabilities, replies []message.Message) []message.Message {
	out := make([]message.Message, 0, len(replies))
	for _, m := range replies {
		if !caps.Buttons && len(m.Choices) > 0 {
			m.Text = message.RenderChoices(m.Text, m.Choices)
			m.Choices = nil
		}
		if m.Kind != message.KindText || caps.MaxTextBytes <= 0 || len(m.Text) <= caps.MaxTextBytes {
			out = append(out, m)
			continue
		}
		for i, part := range message.SplitText(m.Text, caps.MaxTextBytes) {
			p := m
			p.Text = part
			if i > 0 {
				p.ID = m.ID + "." + strconv.Itoa(i+1)
				p.Choices = nil
			}
			out = append(out, p)
		}
	}
	return out
}

// sendActive enqueues delivery of parts through the channel's active API.
// Channels whose customers read the transcript (web) need nothing more.
// seq is the outbound number the turn's commit gave the parts (only ever
// to parts that surely go this way), or 0 to number them now.
func (o *outbox) sendActive(conv *Conversation, in message.Message, caps adapters.Capabilities, parts []message.Message, seq int64) {
	if len(parts) == 0 {
		return
	}
	r := o.r
	if caps.TranscriptDelivery {
		for _, p := range parts {
			r.metrics.MessagesOut.WithLabelValues(in.Channel, string(p.Kind), "transcript").Inc()
		}
		return
	}
	ctx, cancel := context.WithTimeout(r.base, 5*time.Second)
	defer cancel()
	// The number makes consecutive turns' replies go out in order even
	// when two workers pick them up at once.
	err := workers.EnqueueInOrder(ctx, r.rdb, r.keys, r.tasks, workers.OutboundSendPayload{
		Channel: in.Channel, Account: in.Account, ConversationID: in.ConversationID, Messages: parts, Seq: seq,
	})
	if err != nil {
		r.metrics.Errors.WithLabelValues("outbox").Inc()
		r.log.Error("enqueueing active delivery failed; replies are in the transcript but not sent",
			zap.String("channel", in.Channel), zap.String("conversation", in.ConversationID), zap.Int("parts", len(parts)), zap.Error(err))
	}
}
