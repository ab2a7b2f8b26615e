package contacts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// Update is a change to a contact. Nil and empty fields change nothing.
type Update struct {
	Name     *string `json:"name,omitempty"`
	Timezone *string `json:"timezone,omitempty"`
	// SetAttributes sets attributes; UnsetAttributes removes them.
	SetAttributes   map[string]string `json:"set_attributes,omitempty"`
	UnsetAttributes []string          `json:"unset_attributes,omitempty"`
	AddTags         []string          `json:"add_tags,omitempty"`
	RemoveTags      []string          `json:"remove_tags,omitempty"`
	// OptOut sets (true) or clears (false) the opt-out; Source says who
	// ("api", "agent:amy", "flow").
	OptOut *bool  `json:"opt_out,omitempty"`
	Source string `json:"-"`
	// Note adds a note.
	Note *Note `json:"note,omitempty"`
}

// ValidationError is an invalid Update or identity, naming the field.
type ValidationError struct {
	Field string
	Msg   string
}

func (e *ValidationError) Error() string { return e.Field + ": " + e.Msg }

// LimitError is an update that would pass a configured bound.
type LimitError struct {
	What string
	Max  int
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("a contact may have at most %d %s", e.Max, e.What)
}

var attrKeyPattern = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

// Limits of one value.
const (
	maxTagBytes   = 64
	maxValueBytes = 1024
	maxNameBytes  = 128
	maxNoteBytes  = 4000
)

// ValidTag reports why tag cannot be used, or nil.
func ValidTag(tag string) error {
	switch {
	case tag == "" || len(tag) > maxTagBytes:
		return fmt.Errorf("tag %q must be 1 to %d bytes", tag, maxTagBytes)
	case !utf8.ValidString(tag):
		return fmt.Errorf("tag %q is not valid UTF-8", tag)
	case strings.IndexFunc(tag, func(r rune) bool { return r < 0x20 || r == 0x7f || r == ',' || r == ' ' }) >= 0:
		return fmt.Errorf("tag %q must not contain spaces, commas or control characters", tag)
	}
	return nil
}

// Validate checks u.
func (u *Update) Validate() error {
	if u.Name != nil && (len(*u.Name) > maxNameBytes || !utf8.ValidString(*u.Name)) {
		return &ValidationError{"name", fmt.Sprintf("must be valid UTF-8 of at most %d bytes", maxNameBytes)}
	}
	if u.Timezone != nil && *u.Timezone != "" {
		if _, err := time.LoadLocation(*u.Timezone); err != nil || strings.HasPrefix(*u.Timezone, "/") {
			return &ValidationError{"timezone", fmt.Sprintf("unknown time zone %q (use an IANA name such as Asia/Shanghai)", *u.Timezone)}
		}
	}
	for k, v := range u.SetAttributes {
		if !attrKeyPattern.MatchString(k) {
			return &ValidationError{"set_attributes", fmt.Sprintf("key %q must be 1-64 letters, digits or _.-", k)}
		}
		if len(v) > maxValueBytes || !utf8.ValidString(v) {
			return &ValidationError{"set_attributes", fmt.Sprintf("value of %q must be valid UTF-8 of at most %d bytes", k, maxValueBytes)}
		}
	}
	for _, k := range u.UnsetAttributes {
		if !attrKeyPattern.MatchString(k) {
			return &ValidationError{"unset_attributes", fmt.Sprintf("key %q must be 1-64 letters, digits or _.-", k)}
		}
		if _, both := u.SetAttributes[k]; both {
			return &ValidationError{"unset_attributes", fmt.Sprintf("%q is both set and unset", k)}
		}
	}
	for _, list := range []struct {
		field string
		tags  []string
	}{{"add_tags", u.AddTags}, {"remove_tags", u.RemoveTags}} {
		for _, t := range list.tags {
			if err := ValidTag(t); err != nil {
				return &ValidationError{list.field, err.Error()}
			}
		}
	}
	for _, a := range u.AddTags {
		for _, r := range u.RemoveTags {
			if a == r {
				return &ValidationError{"remove_tags", fmt.Sprintf("%q is both added and removed", a)}
			}
		}
	}
	if u.Note != nil && (strings.TrimSpace(u.Note.Text) == "" || len(u.Note.Text) > maxNoteBytes || !utf8.ValidString(u.Note.Text) || len(u.Note.Author) > maxNameBytes) {
		return &ValidationError{"note", fmt.Sprintf("text must be non-empty valid UTF-8 of at most %d bytes (author at most %d)", maxNoteBytes, maxNameBytes)}
	}
	return nil
}

// Empty reports whether u changes nothing.
func (u *Update) Empty() bool {
	return u.Name == nil && u.Timezone == nil && len(u.SetAttributes) == 0 && len(u.UnsetAttributes) == 0 &&
		len(u.AddTags) == 0 && len(u.RemoveTags) == 0 && u.OptOut == nil && u.Note == nil
}

// ops encodes u for updateScript.
func (s *Store) ops(u Update) (string, error) {
	o := map[string]any{"max_tags": s.cfg.MaxTags, "max_attrs": s.cfg.MaxAttributes, "max_notes": s.cfg.MaxNotes}
	if u.Name != nil {
		o["name"] = *u.Name
	}
	if u.Timezone != nil {
		o["tz"] = *u.Timezone
	}
	if len(u.SetAttributes) > 0 {
		o["set"] = u.SetAttributes
	}
	if len(u.UnsetAttributes) > 0 {
		o["unset"] = u.UnsetAttributes
	}
	if len(u.AddTags) > 0 {
		o["add"] = u.AddTags
	}
	if len(u.RemoveTags) > 0 {
		o["remove"] = u.RemoveTags
	}
	if u.OptOut != nil {
		o["opt"] = map[bool]string{true: "out", false: "in"}[*u.OptOut]
		src := u.Source
		if src == "" {
			src = "api"
		}
		o["opt_src"] = src
	}
	if u.Note != nil {
		n := *u.Note
		if n.At.IsZero() {
			n.At = s.clock.Now().UTC()
		}
		b, err := json.Marshal(n)
		if err != nil {
			return "", fmt.Errorf("encoding note: %w", err)
		}
		o["note"] = string(b)
	}
	b, err := json.Marshal(o)
	if err != nil {
		return "", fmt.Errorf("encoding contact update: %w", err)
	}
	return string(b), nil
}

// Update changes the contact with id (ErrNotFound when there is none) and
// returns it as it now is. Invalid updates return a *ValidationError,
// updates beyond the configured bounds a *LimitError; either changes
// nothing.
func (s *Store) Update(ctx context.Context, id string, u Update) (*Contact, error) {
	if id == "" {
		return nil, ErrNotFound
	}
	return s.update(ctx, id, Identity{}, u)
}

// UpdateByIdentity changes the contact of a channel identity, creating it
// when the customer has none yet: flows (contact_set, tag_add, tag_remove)
// and agents call it with the conversation's customer. ident.ConversationID
// is recorded when set.
func (s *Store) UpdateByIdentity(ctx context.Context, ident Identity, u Update) (*Contact, error) {
	if ident.Channel == "" || ident.Account == "" || ident.ID == "" {
		return nil, &ValidationError{"identity", "channel, account and id are required"}
	}
	return s.update(ctx, "", ident, u)
}

func (s *Store) update(ctx context.Context, id string, ident Identity, u Update) (*Contact, error) {
	if err := u.Validate(); err != nil {
		return nil, err
	}
	ops, err := s.ops(u)
	if err != nil {
		return nil, err
	}
	res, err := updateScript.Run(ctx, s.rdb, []string{s.keys.Slot()}, s.args(id, ident.Channel, ident.Account, ident.ID,
		ident.UnionID, ident.ConversationID, NewID(), ops)...).Slice()
	if err != nil {
		return nil, fmt.Errorf("updating contact: %w", err)
	}
	return s.result(res)
}

func (s *Store) result(res []any) (*Contact, error) {
	status, _ := res[0].(string)
	switch status {
	case "ok":
		c, err := decodeContact(res[1])
		s.remembered.refresh(c)
		return c, err
	case "notfound":
		return nil, ErrNotFound
	case "limit":
		what, _ := res[1].(string)
		n, _ := res[2].(int64)
		return nil, &LimitError{What: what, Max: int(n)}
	}
	return nil, fmt.Errorf("updating contact: unexpected reply %q", status)
}

// Link adds a channel identity to the contact with id. When the identity,
// or its UnionID, already belongs to another contact, that contact is
// merged into this one (identities, tags, missing attributes, notes,
// follow-ups; an opt-out on either side is kept) and its id becomes an
// alias of this one. It returns the contact and the merged id ("" if none).
func (s *Store) Link(ctx context.Context, id string, ident Identity) (*Contact, string, error) {
	if err := ident.validate(); err != nil {
		return nil, "", err
	}
	res, err := linkScript.Run(ctx, s.rdb, []string{s.keys.Slot()}, s.args(id, ident.Channel, ident.Account, ident.ID, ident.UnionID)...).Slice()
	if err != nil {
		return nil, "", fmt.Errorf("linking identity: %w", err)
	}
	if st, _ := res[0].(string); st == "notfound" {
		return nil, "", ErrNotFound
	}
	if len(res) != 3 {
		return nil, "", errors.New("linking identity: unexpected reply")
	}
	c, err := decodeContact(res[1])
	s.remembered.refresh(c)
	merged, _ := res[2].(string)
	return c, merged, err
}

var identityPartPattern = regexp.MustCompile(`^[^/\s]{1,128}$`)

func (i Identity) validate() error {
	for _, p := range []struct{ field, v string }{{"channel", i.Channel}, {"account", i.Account}, {"id", i.ID}} {
		if !identityPartPattern.MatchString(p.v) || !utf8.ValidString(p.v) {
			return &ValidationError{p.field, "must be 1-128 characters without '/' or spaces"}
		}
	}
	if i.UnionID != "" && !identityPartPattern.MatchString(i.UnionID) {
		return &ValidationError{"union_id", "must be 1-128 characters without '/' or spaces"}
	}
	return nil
}
