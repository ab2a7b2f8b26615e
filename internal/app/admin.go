package app

import (
	"crypto/subtle"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// AdminMounter is implemented by components that add operator API routes
// under /admin/api (handoff queues, contacts, campaigns ...).
type AdminMounter interface {
	MountAdmin(r fiber.Router)
}

// mountAdmin adds /admin/api behind the bearer token. With no admin.token
// configured every operator route answers 404, so nothing is open by
// accident.
func (a *App) mountAdmin(app *fiber.App, mounters []AdminMounter) {
	token := []byte(a.Cfg.Admin.Token)
	g := app.Group("/admin/api", func(c *fiber.Ctx) error {
		if len(token) == 0 {
			return c.Status(fiber.StatusNotFound).JSON(fiber.Map{"error": "operator API disabled: set admin.token (KEFU_ADMIN_TOKEN)"})
		}
		got, ok := strings.CutPrefix(c.Get(fiber.HeaderAuthorization), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), token) != 1 {
			c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="kefu"`)
			return c.Status(fiber.StatusUnauthorized).JSON(fiber.Map{"error": "missing or wrong bearer token"})
		}
		return c.Next()
	})
	g.Get("/", func(c *fiber.Ctx) error { return c.JSON(fiber.Map{"ok": true}) })
	for _, m := range mounters {
		m.MountAdmin(g)
	}
}
