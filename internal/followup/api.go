package followup

import (
	"errors"
	"net/url"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/kefu-gateway/kefu/internal/contacts"
)

// API serves a contact's follow-ups on the operator API (under
// /admin/api). It implements app.AdminMounter.
type API struct{ s *Scheduler }

// NewAPI returns the follow-up API.
func NewAPI(s *Scheduler) *API { return &API{s: s} }

// MountAdmin adds the routes; r is the /admin/api group.
func (a *API) MountAdmin(r fiber.Router) {
	r.Get("/contacts/:id/followups", a.list)
	r.Post("/contacts/:id/followups", a.create)
	r.Delete("/contacts/:id/followups/:key", a.cancel)
}

func (a *API) list(c *fiber.Ctx) error {
	recs, err := a.s.List(c.UserContext(), c.Params("id"))
	if errors.Is(err, contacts.ErrNotFound) {
		return contacts.ErrorJSON(c, fiber.StatusNotFound, "", "no such contact")
	}
	if err != nil {
		return err
	}
	views := make([]View, len(recs))
	for i, r := range recs {
		views[i] = r.View()
	}
	return c.JSON(fiber.Map{"followups": views})
}

// createBody is POST /contacts/:id/followups.
type createBody struct {
	ID string `json:"id"`
	// Where: a conversation id of the contact, or a channel (and account);
	// neither = where the contact wrote last.
	ConversationID string `json:"conversation_id"`
	Channel        string `json:"channel"`
	Account        string `json:"account"`
	// When: delay ("24h", "90m") or at (RFC 3339).
	Delay         string     `json:"delay"`
	At            *time.Time `json:"at"`
	Text          string     `json:"text"`
	Flow          string     `json:"flow"`
	CancelOnReply *bool      `json:"cancel_on_reply"`
	By            string     `json:"by"`
}

func (a *API) create(c *fiber.Ctx) error {
	var b createBody
	if err := contacts.DecodeJSON(c, &b); err != nil {
		if contacts.Answered(err) {
			return nil
		}
		return err
	}
	ctx := c.UserContext()
	ct, err := a.s.o.d.Contacts.Get(ctx, c.Params("id"))
	if errors.Is(err, contacts.ErrNotFound) {
		return contacts.ErrorJSON(c, fiber.StatusNotFound, "", "no such contact")
	}
	if err != nil {
		return err
	}
	var ident contacts.Identity
	found := false
	switch {
	case b.ConversationID != "":
		for _, id := range ct.Identities {
			if ConversationID(id) == b.ConversationID {
				ident, found = id, true
			}
		}
	case b.Channel != "":
		ident, found = ct.Identity(b.Channel, b.Account)
	default:
		ident, found = ct.LatestIdentity()
	}
	if !found {
		return contacts.ErrorJSON(c, fiber.StatusBadRequest, "conversation_id", "the contact has no such conversation or channel identity")
	}
	f := Followup{ID: b.ID, Text: b.Text, Flow: b.Flow, CancelOnReply: b.CancelOnReply == nil || *b.CancelOnReply, Source: "api"}
	if b.By != "" {
		f.Source = "api:" + b.By
	}
	if b.Delay != "" {
		d, err := time.ParseDuration(b.Delay)
		if err != nil {
			return contacts.ErrorJSON(c, fiber.StatusBadRequest, "delay", `must be a duration such as "24h" or "90m"`)
		}
		f.Delay = d
	}
	if b.At != nil {
		f.At = *b.At
	}
	rec, err := a.s.ScheduleFor(ctx, ct.ID, ident, f)
	var ve *ValidationError
	switch {
	case errors.As(err, &ve):
		return contacts.ErrorJSON(c, fiber.StatusBadRequest, ve.Field, ve.Msg)
	case errors.Is(err, ErrLimit):
		return contacts.ErrorJSON(c, fiber.StatusConflict, "", err.Error())
	case err != nil:
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(rec.View())
}

func (a *API) cancel(c *fiber.Ctx) error {
	key, err := url.PathUnescape(c.Params("key"))
	if err != nil {
		return contacts.ErrorJSON(c, fiber.StatusBadRequest, "key", "not a follow-up key")
	}
	ok, err := a.s.CancelKey(c.UserContext(), c.Params("id"), key, "cancelled through the operator API")
	if err != nil {
		return err
	}
	if !ok {
		return contacts.ErrorJSON(c, fiber.StatusNotFound, "", "no pending follow-up with this key")
	}
	return c.JSON(fiber.Map{"cancelled": key})
}
