package followup

import (
	"strings"
	"time"

	"github.com/kefu-gateway/kefu/internal/contacts"
)

// renderFields fills a template line's field values for one contact.
// Unknown placeholders (refused by Validate) render empty.
func renderFields(f TemplateFallback, text string, c *contacts.Contact, loc *time.Location, now time.Time) map[string]string {
	out := make(map[string]string, len(f.Fields))
	for name, v := range f.Fields {
		out[name] = placeholder.ReplaceAllStringFunc(v, func(m string) string {
			key := strings.TrimSpace(m[2 : len(m)-2])
			switch {
			case key == "text":
				return text
			case key == "name":
				return c.Name
			case key == "date":
				return now.In(loc).Format("2006-01-02")
			case strings.HasPrefix(key, "attr."):
				return c.Attributes[strings.TrimPrefix(key, "attr.")]
			}
			return ""
		})
	}
	return out
}
