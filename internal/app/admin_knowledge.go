package app

import (
	"strconv"

	"github.com/gofiber/fiber/v2"
	"github.com/kefu-gateway/kefu/internal/knowledge"
)

// knowledgeAdmin serves the knowledge base's operator routes.
type knowledgeAdmin struct {
	gaps *knowledge.Gaps
}

// MountAdmin adds GET /admin/api/knowledge/gaps?n=50: the questions kefu
// could not answer, most asked first, with sample wordings.
func (k knowledgeAdmin) MountAdmin(r fiber.Router) {
	r.Get("/knowledge/gaps", func(c *fiber.Ctx) error {
		n := 50
		if s := c.Query("n"); s != "" {
			v, err := strconv.Atoi(s)
			if err != nil || v < 1 || v > 1000 {
				return c.Status(fiber.StatusBadRequest).JSON(fiber.Map{"error": "n must be a number from 1 to 1000"})
			}
			n = v
		}
		gaps, err := k.gaps.Top(c.UserContext(), n)
		if err != nil {
			return c.Status(fiber.StatusServiceUnavailable).JSON(fiber.Map{"error": "temporarily unavailable"})
		}
		if gaps == nil {
			gaps = []knowledge.Gap{}
		}
		return c.JSON(fiber.Map{"gaps": gaps})
	})
}
