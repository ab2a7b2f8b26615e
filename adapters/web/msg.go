package web

import (
	"time"

	"github.com/kefu-gateway/kefu/adapters/message"
)

// Msg is a message as the web API and widget see it (CONTRACT.md).
type Msg struct {
	ID   string `json:"id"`
	Type string `json:"type"` // text | image | card | event
	Text string `json:"text"`
	From string `json:"from"` // visitor | bot | agent | system
	TS   string `json:"ts"`
	// Name is the sender's display name (the bot's or the agent's).
	Name string `json:"name,omitempty"`
	// ClientID echoes the id the visitor's client sent with the message.
	ClientID string           `json:"client_id,omitempty"`
	Choices  []message.Choice `json:"choices,omitempty"`
	Card     *message.Card    `json:"card,omitempty"`
	URL      string           `json:"url,omitempty"`
	Event    string           `json:"event,omitempty"`
	// StreamID links a finished reply to the stream of pieces that showed
	// it while it was generated ({"type":"stream"} frames on the WebSocket).
	StreamID string `json:"stream_id,omitempty"`
}

// visible reports whether a transcript entry is shown to the visitor:
// inbound events (the session start) are internal.
func visible(m *message.Message) bool {
	return !(m.Kind == message.KindEvent && m.IsCustomer())
}

func toMsg(m *message.Message) Msg {
	out := Msg{ID: m.ID, Text: m.Text, TS: m.Timestamp.UTC().Format(time.RFC3339), Name: m.From.Name, StreamID: m.Meta["stream_id"]}
	switch m.From.Role {
	case message.RoleBot:
		out.From = "bot"
	case message.RoleAgent:
		out.From = "agent"
	case message.RoleSystem:
		out.From = "system"
	default:
		out.From = "visitor"
		out.Name = ""
		out.ClientID = m.Meta["client_id"]
	}
	switch m.Kind {
	case message.KindImage:
		out.Type = "image"
		for _, a := range m.Attachments {
			if a.URL != "" {
				out.URL = a.URL
				break
			}
		}
	case message.KindCard:
		out.Type = "card"
		out.Card = m.Card
	case message.KindEvent:
		out.Type = "event"
		if m.Event != nil {
			out.Event = m.Event.Type
		}
	default:
		out.Type = "text"
		out.Choices = m.Choices
	}
	return out
}

func toMsgs(ms []message.Message) []Msg {
	out := make([]Msg, 0, len(ms))
	for i := range ms {
		if visible(&ms[i]) {
			out = append(out, toMsg(&ms[i]))
		}
	}
	return out
}
