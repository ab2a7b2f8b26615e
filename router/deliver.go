package router

import (
	"context"
	"errors"
	"fmt"

	"github.com/kefu-gateway/kefu/adapters/message"
	"github.com/redis/go-redis/v9"
)

// Delivery is a set of messages for one conversation's customer, produced
// outside a turn: an agent's reply, a queue-position update, a follow-up,
// a campaign message.
type Delivery struct {
	ConversationID string
	Channel        string
	Account        string
	// Customer is the recipient (Party.ID is the platform id).
	Customer message.Party
	Messages []message.Message
	// BotOnly marks messages that must not go out when a human owns the
	// conversation (follow-ups, campaigns). Agent and system messages set
	// it false.
	BotOnly bool
}

// ErrHumanOwned is returned by Deliver for bot-only deliveries to a
// conversation a human owns.
var ErrHumanOwned = errors.New("a human owns the conversation")

// deliverScript appends messages to the transcript and publishes them,
// unless they are bot-only and a human owns the conversation.
//
//	KEYS: 1 conversation hash, 2 transcript stream
//	ARGV: 1 bot-only ("1"/"0"), 2 transcript max, 3 transcript TTL ms,
//	      4 pub/sub channel, 5.. message JSON
var deliverScript = redis.NewScript(`
if ARGV[1] == '1' then
  local o = redis.call('HGET', KEYS[1], 'o')
  if o and o ~= '' then return -2 end
end
local ids = {}
for i = 5, #ARGV do
  local id = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', 'm', ARGV[i])
  ids[#ids + 1] = id
  redis.call('PUBLISH', ARGV[4], 'm' .. id .. '\n' .. ARGV[i])
end
if #ids > 0 then redis.call('PEXPIRE', KEYS[2], ARGV[3]) end
return ids
`)

// Deliver records messages in the conversation's transcript and sends them
// through the channel: web visitors see them at once, other channels get
// an outbound:send task (which checks the owner again at send time for bot
// messages). It returns the messages with their transcript ids.
func (r *Router) Deliver(ctx context.Context, d Delivery) ([]message.Message, error) {
	caps, ok := r.capabilities(d.Channel, d.Account)
	if !ok {
		return nil, fmt.Errorf("delivering to %s/%s: no such channel account", d.Channel, d.Account)
	}
	for i := range d.Messages {
		d.Messages[i].To = d.Customer
	}
	msgs, err := r.Record(ctx, d)
	if err != nil {
		return nil, err
	}
	in := message.Message{Channel: d.Channel, Account: d.Account, ConversationID: d.ConversationID}
	r.outbox.sendActive(&Conversation{ID: d.ConversationID}, in, caps, r.outbox.render(caps, msgs), 0)
	return msgs, nil
}

// Record appends messages to the conversation's transcript and publishes
// them, without sending anything: for messages another component delivered
// itself (a campaign or follow-up sent through the adapter) or that need no
// delivery (an inbound message an interceptor took). Web visitors, who read
// the transcript, see them at once. Bot-only records are refused with
// ErrHumanOwned while a human owns the conversation. It returns the
// messages with their transcript ids.
func (r *Router) Record(ctx context.Context, d Delivery) ([]message.Message, error) {
	msgs := make([]message.Message, len(d.Messages))
	args := []any{"0", r.cfg.TranscriptMax, r.cfg.TranscriptTTL.Milliseconds(), r.keys.ConversationChannel(d.ConversationID)}
	if d.BotOnly {
		args[0] = "1"
	}
	for i, m := range d.Messages {
		m.Channel, m.Account, m.ConversationID = d.Channel, d.Account, d.ConversationID
		if m.Timestamp.IsZero() {
			m.Timestamp = r.clock.Now()
		}
		if m.Kind == "" {
			m.Kind = message.KindText
		}
		msgs[i] = m
		b, err := encodeJSON(&m)
		if err != nil {
			return nil, fmt.Errorf("encoding delivery: %w", err)
		}
		args = append(args, b)
	}
	keys := []string{r.keys.Conversation(d.ConversationID), r.keys.Transcript(d.ConversationID)}
	res, err := deliverScript.Run(ctx, r.rdb, keys, args...).Result()
	if err != nil {
		return nil, fmt.Errorf("recording delivery: %w", err)
	}
	ids, ok := res.([]any)
	if !ok {
		return nil, ErrHumanOwned
	}
	for i := range msgs {
		msgs[i].ID, _ = ids[i].(string)
	}
	return msgs, nil
}
