package wxaccount

import (
	"strings"

	"github.com/kefu-gateway/kefu/adapters/message"
)

// TextOf renders an outbound message as the text WeChat shows: its text,
// a link card as title, description and URL on their own lines, and the
// URLs of link or image attachments. Choices are already rendered into the
// text by the router for channels without buttons.
func TextOf(m message.Message) string {
	parts := make([]string, 0, 4)
	if t := strings.TrimSpace(m.Text); t != "" {
		parts = append(parts, m.Text)
	}
	if c := m.Card; c != nil {
		for _, s := range []string{c.Title, c.Description, c.URL} {
			if s != "" {
				parts = append(parts, s)
			}
		}
	}
	for _, a := range m.Attachments {
		if a.URL != "" && (a.Kind == message.KindLink || a.Kind == message.KindImage) {
			parts = append(parts, a.URL)
		}
	}
	return strings.Join(parts, "\n")
}
