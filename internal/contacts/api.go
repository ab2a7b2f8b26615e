package contacts

import (
	"context"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/kefu-gateway/kefu/adapters"
	"github.com/kefu-gateway/kefu/adapters/message"
	"go.uber.org/zap"
)

// API serves the contacts part of the operator API (under /admin/api,
// behind its bearer token): contacts, and conversation transcripts. It
// implements app.AdminMounter.
type API struct {
	store       *Store
	transcripts adapters.Transcripts
	lookup      func(channel, account string) (adapters.Adapter, bool)
	log         *zap.Logger
	// WindowTimeout bounds asking a channel for an identity's window
	// (default 2s); an identity whose channel does not answer in time is
	// shown without its window.
	WindowTimeout time.Duration
}

// NewAPI returns the contacts API. transcripts reads conversations
// (router.NewTranscriptReader); lookup (adapters.Set.Lookup, may be nil)
// lets a contact's identities show their platform window.
func NewAPI(s *Store, transcripts adapters.Transcripts, lookup func(channel, account string) (adapters.Adapter, bool), log *zap.Logger) *API {
	if log == nil {
		log = zap.NewNop()
	}
	return &API{store: s, transcripts: transcripts, lookup: lookup, log: log, WindowTimeout: 2 * time.Second}
}

// MountAdmin adds the routes; r is the /admin/api group.
func (a *API) MountAdmin(r fiber.Router) {
	r.Get("/contacts", a.search)
	r.Post("/contacts", a.importContacts)
	r.Get("/contacts/lookup", a.lookupIdentity)
	r.Get("/contacts/:id", a.get)
	r.Patch("/contacts/:id", a.update)
	r.Post("/contacts/:id/notes", a.addNote)
	r.Post("/contacts/:id/identities", a.link)
	r.Get("/conversations/:conv/transcript", a.transcript)
}

// View is a contact as the API shows it: identities carry the platform's
// current window when the channel tracks one.
type View struct {
	*Contact
	Identities []IdentityView `json:"identities"`
}

// IdentityView is an identity with its window.
type IdentityView struct {
	Identity
	Window *WindowView `json:"window,omitempty"`
}

// WindowView is adapters.Window in JSON.
type WindowView struct {
	Open      bool       `json:"open"`
	Remaining int        `json:"remaining"`
	Closes    *time.Time `json:"closes,omitempty"`
	Reason    string     `json:"reason,omitempty"`
}

func (a *API) view(ctx context.Context, c *Contact) View {
	v := View{Contact: c, Identities: make([]IdentityView, len(c.Identities))}
	for i, id := range c.Identities {
		v.Identities[i] = IdentityView{Identity: id}
		if a.lookup == nil {
			continue
		}
		ad, ok := a.lookup(id.Channel, id.Account)
		if !ok {
			continue
		}
		wc, ok := ad.(adapters.WindowChecker)
		if !ok {
			continue
		}
		wctx, cancel := context.WithTimeout(ctx, a.WindowTimeout)
		w, err := wc.Window(wctx, message.Party{ID: id.ID, UnionID: id.UnionID, Role: message.RoleCustomer})
		cancel()
		if err != nil {
			a.log.Debug("reading a contact's window failed", zap.String("channel", id.Channel), zap.Error(err))
			continue
		}
		wv := &WindowView{Open: w.Open, Remaining: w.Remaining, Reason: w.Reason}
		if !w.Closes.IsZero() {
			t := w.Closes.UTC()
			wv.Closes = &t
		}
		v.Identities[i].Window = wv
	}
	return v
}

// fail answers store errors: validation 400, limits 409, missing 404;
// anything else is returned for the 500 handler.
func fail(c *fiber.Ctx, err error) error {
	var ve *ValidationError
	var le *LimitError
	switch {
	case errors.As(err, &ve):
		return ErrorJSON(c, fiber.StatusBadRequest, ve.Field, ve.Msg)
	case errors.As(err, &le):
		return ErrorJSON(c, fiber.StatusConflict, le.What, le.Error())
	case errors.Is(err, ErrNotFound):
		return ErrorJSON(c, fiber.StatusNotFound, "", "no such contact")
	}
	return err
}

func queryList(c *fiber.Ctx, key string) []string {
	var out []string
	for _, v := range c.Context().QueryArgs().PeekMulti(key) {
		for _, s := range strings.Split(string(v), ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}

func (a *API) search(c *fiber.Ctx) error {
	limit := 50
	if s := c.Query("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 500 {
			return ErrorJSON(c, fiber.StatusBadRequest, "limit", "must be a number from 1 to 500")
		}
		limit = n
	}
	q := Query{Tags: queryList(c, "tag"), Channel: c.Query("channel"), Account: c.Query("account"), Cursor: c.Query("cursor"), Limit: limit}
	if q.Account != "" && q.Channel == "" {
		return ErrorJSON(c, fiber.StatusBadRequest, "account", "needs channel")
	}
	p, err := a.store.Search(c.UserContext(), q)
	if err != nil {
		return fail(c, err)
	}
	views := make([]View, len(p.Contacts))
	for i, ct := range p.Contacts {
		views[i] = View{Contact: ct, Identities: identityViews(ct)}
	}
	return c.JSON(fiber.Map{"contacts": views, "next": p.Next})
}

func identityViews(c *Contact) []IdentityView {
	out := make([]IdentityView, len(c.Identities))
	for i, id := range c.Identities {
		out[i] = IdentityView{Identity: id}
	}
	return out
}

func (a *API) get(c *fiber.Ctx) error {
	ct, err := a.store.Get(c.UserContext(), c.Params("id"))
	if err != nil {
		return fail(c, err)
	}
	return c.JSON(a.view(c.UserContext(), ct))
}

func (a *API) lookupIdentity(c *fiber.Ctx) error {
	ident := Identity{Channel: c.Query("channel"), Account: c.Query("account"), ID: c.Query("id")}
	if err := ident.validate(); err != nil {
		return fail(c, err)
	}
	ct, err := a.store.ByIdentity(c.UserContext(), ident)
	if err != nil {
		return fail(c, err)
	}
	return c.JSON(a.view(c.UserContext(), ct))
}

// updateBody is PATCH /contacts/:id. Attributes set to null are removed.
type updateBody struct {
	Name       *string            `json:"name"`
	Timezone   *string            `json:"timezone"`
	Attributes map[string]*string `json:"attributes"`
	AddTags    []string           `json:"add_tags"`
	RemoveTags []string           `json:"remove_tags"`
	OptedOut   *bool              `json:"opted_out"`
	// By names who changes it, for the opt-out source ("agent:amy").
	By string `json:"by"`
}

func (b *updateBody) update() Update {
	u := Update{Name: b.Name, Timezone: b.Timezone, AddTags: b.AddTags, RemoveTags: b.RemoveTags, OptOut: b.OptedOut, Source: "api"}
	if b.By != "" {
		u.Source = "api:" + b.By
	}
	for k, v := range b.Attributes {
		if v == nil {
			u.UnsetAttributes = append(u.UnsetAttributes, k)
			continue
		}
		if u.SetAttributes == nil {
			u.SetAttributes = map[string]string{}
		}
		u.SetAttributes[k] = *v
	}
	return u
}

func (a *API) update(c *fiber.Ctx) error {
	var b updateBody
	if err := DecodeJSON(c, &b); err != nil {
		return nilIfAnswered(err)
	}
	u := b.update()
	if u.Empty() {
		return ErrorJSON(c, fiber.StatusBadRequest, "", "nothing to change: give name, timezone, attributes, add_tags, remove_tags or opted_out")
	}
	ct, err := a.store.Update(c.UserContext(), c.Params("id"), u)
	if err != nil {
		return fail(c, err)
	}
	return c.JSON(a.view(c.UserContext(), ct))
}

func nilIfAnswered(err error) error {
	if Answered(err) {
		return nil
	}
	return err
}

func (a *API) addNote(c *fiber.Ctx) error {
	var n struct {
		Text   string `json:"text"`
		Author string `json:"author"`
	}
	if err := DecodeJSON(c, &n); err != nil {
		return nilIfAnswered(err)
	}
	ct, err := a.store.Update(c.UserContext(), c.Params("id"), Update{Note: &Note{Text: n.Text, Author: n.Author}})
	if err != nil {
		return fail(c, err)
	}
	return c.Status(fiber.StatusCreated).JSON(a.view(c.UserContext(), ct))
}

func (a *API) link(c *fiber.Ctx) error {
	var b struct {
		Channel string `json:"channel"`
		Account string `json:"account"`
		ID      string `json:"id"`
		UnionID string `json:"union_id"`
	}
	if err := DecodeJSON(c, &b); err != nil {
		return nilIfAnswered(err)
	}
	ct, merged, err := a.store.Link(c.UserContext(), c.Params("id"), Identity{Channel: b.Channel, Account: b.Account, ID: b.ID, UnionID: b.UnionID})
	if err != nil {
		return fail(c, err)
	}
	return c.JSON(fiber.Map{"contact": a.view(c.UserContext(), ct), "merged": merged})
}

func (a *API) importContacts(c *fiber.Ctx) error {
	var b struct {
		Contacts []struct {
			Identity   Identity          `json:"identity"`
			Name       *string           `json:"name"`
			Timezone   *string           `json:"timezone"`
			Attributes map[string]string `json:"attributes"`
			Tags       []string          `json:"tags"`
			OptedOut   *bool             `json:"opted_out"`
		} `json:"contacts"`
	}
	if err := DecodeJSON(c, &b); err != nil {
		return nilIfAnswered(err)
	}
	if len(b.Contacts) == 0 {
		return ErrorJSON(c, fiber.StatusBadRequest, "contacts", "give at least one contact")
	}
	items := make([]ImportItem, len(b.Contacts))
	for i, x := range b.Contacts {
		items[i] = ImportItem{Identity: x.Identity, Update: Update{Name: x.Name, Timezone: x.Timezone, SetAttributes: x.Attributes,
			AddTags: x.Tags, OptOut: x.OptedOut, Source: "import"}}
	}
	ids, err := a.store.Import(c.UserContext(), items)
	if err != nil {
		return fail(c, err)
	}
	return c.Status(fiber.StatusCreated).JSON(fiber.Map{"ids": ids})
}

func (a *API) transcript(c *fiber.Ctx) error {
	conv, err := url.PathUnescape(c.Params("conv"))
	if err != nil || conv == "" || len(conv) > 256 {
		return ErrorJSON(c, fiber.StatusBadRequest, "conversation", "not a conversation id")
	}
	limit := 100
	if s := c.Query("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1000 {
			return ErrorJSON(c, fiber.StatusBadRequest, "limit", "must be a number from 1 to 1000")
		}
		limit = n
	}
	after := c.Query("after")
	if after != "" && !streamID(after) {
		return ErrorJSON(c, fiber.StatusBadRequest, "after", "must be a message id from this API (such as 1718000000000-0)")
	}
	msgs, err := a.transcripts.After(c.UserContext(), conv, after, limit)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"conversation_id": conv, "messages": msgs})
}

func streamID(s string) bool {
	ms, seq, ok := strings.Cut(s, "-")
	if !ok {
		return false
	}
	_, err1 := strconv.ParseUint(ms, 10, 64)
	_, err2 := strconv.ParseUint(seq, 10, 64)
	return err1 == nil && err2 == nil
}
