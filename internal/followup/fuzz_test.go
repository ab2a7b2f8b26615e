package followup

import (
	"testing"
	"time"

	"github.com/kefu-gateway/kefu/internal/contacts"
)

// FuzzTemplateFields renders window-fallback field values: nothing panics
// and a value without placeholders comes out unchanged.
func FuzzTemplateFields(f *testing.F) {
	f.Add("{{name}}您好，{{text}}", "尺码表", "size")
	f.Add("{{attr.size}} {{date}} {{ nope }}", "x", "size")
	f.Add("{{{{text}}}}", "", "")
	c := &contacts.Contact{Name: "王女士", Attributes: map[string]string{"size": "M"}}
	f.Fuzz(func(t *testing.T, value, text, attr string) {
		out := renderFields(TemplateFallback{Fields: map[string]string{"f": value}}, text, c, time.UTC, time.Unix(0, 0))
		if !placeholder.MatchString(value) && out["f"] != value {
			t.Fatalf("%q rendered as %q", value, out["f"])
		}
	})
}
