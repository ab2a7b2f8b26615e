package web

import (
	"bytes"
	"html/template"
	"io/fs"

	"github.com/gofiber/fiber/v2"
	webassets "github.com/kefu-gateway/kefu/web"
)

var (
	widgetJS = mustRead("static/widget.js")
	demoTmpl = template.Must(template.New("index").Parse(string(mustRead("static/index.html"))))
)

func mustRead(name string) []byte {
	b, err := fs.ReadFile(webassets.Static, name)
	if err != nil {
		panic("web: embedded asset missing: " + name)
	}
	return b
}

// widget serves /widget.js. Browsers revalidate after five minutes, so a new
// kefu version reaches pages quickly.
func (ch *Channel) widget(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, "application/javascript; charset=utf-8")
	c.Set(fiber.HeaderCacheControl, "public, max-age=300")
	c.Set("X-Content-Type-Options", "nosniff")
	return c.Send(widgetJS)
}

// demoPage serves / with the widget of the first configured site.
func (ch *Channel) demoPage(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	if len(ch.order) == 0 {
		return c.SendString(`<!doctype html><meta charset="utf-8"><title>kefu</title><p>kefu is running. Configure a site under <code>channels.web</code> to get the chat widget here.</p>`)
	}
	s := ch.order[0]
	var buf bytes.Buffer
	err := demoTmpl.Execute(&buf, map[string]string{
		"Site": s.cfg.ID, "Title": s.cfg.Title, "Color": s.cfg.Color, "Origin": c.BaseURL(),
	})
	if err != nil {
		return err
	}
	return c.Send(buf.Bytes())
}
