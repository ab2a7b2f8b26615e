package campaign

import (
	"errors"
	"strconv"

	"github.com/gofiber/fiber/v2"
	"github.com/kefu-gateway/kefu/internal/contacts"
)

// API serves campaigns on the operator API (under /admin/api). It
// implements app.AdminMounter.
type API struct{ s *Service }

// NewAPI returns the campaign API.
func NewAPI(s *Service) *API { return &API{s: s} }

// MountAdmin adds the routes; r is the /admin/api group.
func (a *API) MountAdmin(r fiber.Router) {
	r.Get("/campaigns", a.list)
	r.Post("/campaigns", a.create)
	r.Get("/campaigns/:id", a.get)
	r.Post("/campaigns/:id/pause", a.control("pause"))
	r.Post("/campaigns/:id/resume", a.control("resume"))
	r.Post("/campaigns/:id/cancel", a.control("cancel"))
}

func (a *API) fail(c *fiber.Ctx, err error) error {
	var fe *FieldError
	var se *StateError
	switch {
	case errors.As(err, &fe):
		return contacts.ErrorJSON(c, fiber.StatusBadRequest, fe.Field, fe.Msg)
	case errors.As(err, &se):
		return contacts.ErrorJSON(c, fiber.StatusConflict, "status", se.Error())
	case errors.Is(err, ErrNotFound):
		return contacts.ErrorJSON(c, fiber.StatusNotFound, "", "no such campaign")
	case errors.Is(err, ErrExists):
		return contacts.ErrorJSON(c, fiber.StatusConflict, "id", err.Error())
	}
	return err
}

func (a *API) list(c *fiber.Ctx) error {
	limit := 50
	if s := c.Query("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 200 {
			return contacts.ErrorJSON(c, fiber.StatusBadRequest, "limit", "must be a number from 1 to 200")
		}
		limit = n
	}
	ps, err := a.s.List(c.UserContext(), limit)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"campaigns": ps})
}

func (a *API) create(c *fiber.Ctx) error {
	var d Definition
	if err := contacts.DecodeJSON(c, &d); err != nil {
		if contacts.Answered(err) {
			return nil
		}
		return err
	}
	p, err := a.s.Create(c.UserContext(), d)
	if err != nil {
		return a.fail(c, err)
	}
	return c.Status(fiber.StatusCreated).JSON(p)
}

func (a *API) get(c *fiber.Ctx) error {
	p, err := a.s.Get(c.UserContext(), c.Params("id"))
	if err != nil {
		return a.fail(c, err)
	}
	return c.JSON(p)
}

func (a *API) control(action string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		var p *Progress
		var err error
		switch action {
		case "pause":
			p, err = a.s.Pause(c.UserContext(), c.Params("id"))
		case "resume":
			p, err = a.s.Resume(c.UserContext(), c.Params("id"))
		default:
			p, err = a.s.Cancel(c.UserContext(), c.Params("id"))
		}
		if err != nil {
			return a.fail(c, err)
		}
		return c.JSON(p)
	}
}
