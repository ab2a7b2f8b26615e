// Package campaign sends one message (a text, or a flow to start) to a
// segment of contacts — tags to include and exclude, a channel, activity
// within N days — on a schedule, at a rate, through asynq. Every recipient
// is claimed atomically before its send and settled after it, so a pause,
// a resume, a retried task or a worker restarted mid-campaign neither loses
// a recipient nor sends one twice; those opted out, outside the platform's
// window, served by a human (and so on) are counted as skipped with the
// reason. Quiet hours defer a recipient to their end.
package campaign

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/kefu-gateway/kefu/internal/contacts"
	"github.com/kefu-gateway/kefu/internal/followup"
	"github.com/kefu-gateway/kefu/internal/ratelimit"
)

// Campaign statuses.
const (
	StatusScheduled = "scheduled"
	StatusRunning   = "running"
	StatusPaused    = "paused"
	StatusCancelled = "cancelled"
	StatusCompleted = "completed"
	StatusFailed    = "failed"
)

// Extra skip reasons of campaigns (the followup.Reason* codes are used too).
const (
	// ReasonMerged: the contact was merged into another one, which is a
	// recipient of its own.
	ReasonMerged = "merged"
	// ReasonNoContact: the contact was deleted.
	ReasonNoContact = "no_contact"
)

// Definition is what an operator creates.
type Definition struct {
	ID       string           `json:"id"`
	Name     string           `json:"name"`
	Audience Audience         `json:"audience"`
	Content  followup.Content `json:"content"`
	// ScheduleAt is when sending starts (nil = now).
	ScheduleAt *time.Time `json:"schedule_at,omitempty"`
	// Rate is the campaign's own send rate ("20/s"); empty = campaigns.default_rate.
	Rate *ratelimit.Rate `json:"rate,omitempty"`
}

// Audience selects recipients.
type Audience struct {
	// Tags: contacts with any of them (Match "any", the default) or all of
	// them (Match "all").
	Tags  []string `json:"tags,omitempty"`
	Match string   `json:"match,omitempty"`
	// ExcludeTags: contacts with any of them are left out.
	ExcludeTags []string `json:"exclude_tags,omitempty"`
	// Channel (and Account): contacts with an identity there, reached
	// there. Without it each contact is reached on the identity they
	// wrote from last.
	Channel string `json:"channel,omitempty"`
	Account string `json:"account,omitempty"`
	// ActiveWithinDays: contacts seen in the last N days (0 = any time).
	ActiveWithinDays int `json:"active_within_days,omitempty"`
	// Everyone must be true to target all contacts (no tags, no channel).
	Everyone bool `json:"everyone,omitempty"`
}

// FieldError is an invalid definition, naming the field.
type FieldError struct {
	Field string `json:"field"`
	Msg   string `json:"error"`
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

const (
	maxNameBytes = 128
	maxTextBytes = 4000
)

func validID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// validate checks d and fills defaults; flowExists may be nil.
func (d *Definition) validate(now time.Time, cfg Config, flowExists func(string) bool) error {
	if d.ID != "" && !validID(d.ID) {
		return &FieldError{"id", "must be 1-64 letters, digits, - or _"}
	}
	d.Name = strings.TrimSpace(d.Name)
	if d.Name == "" || len(d.Name) > maxNameBytes || !utf8.ValidString(d.Name) {
		return &FieldError{"name", fmt.Sprintf("must be 1-%d bytes of text", maxNameBytes)}
	}
	a := &d.Audience
	switch a.Match {
	case "":
		a.Match = "any"
	case "any", "all":
	default:
		return &FieldError{"audience.match", `must be "any" or "all"`}
	}
	for _, list := range []struct {
		field string
		tags  []string
	}{{"audience.tags", a.Tags}, {"audience.exclude_tags", a.ExcludeTags}} {
		if len(list.tags) > 50 {
			return &FieldError{list.field, "at most 50 tags"}
		}
		for _, t := range list.tags {
			if err := contacts.ValidTag(t); err != nil {
				return &FieldError{list.field, err.Error()}
			}
		}
	}
	for _, x := range a.ExcludeTags {
		for _, t := range a.Tags {
			if x == t {
				return &FieldError{"audience.exclude_tags", fmt.Sprintf("%q is both included and excluded", x)}
			}
		}
	}
	if a.Account != "" && a.Channel == "" {
		return &FieldError{"audience.account", "needs audience.channel"}
	}
	for _, p := range []struct{ field, v string }{{"audience.channel", a.Channel}, {"audience.account", a.Account}} {
		if strings.ContainsAny(p.v, "/ \t\n") || len(p.v) > 64 {
			return &FieldError{p.field, "must be a configured id (no spaces or '/')"}
		}
	}
	if a.ActiveWithinDays < 0 || a.ActiveWithinDays > 3650 {
		return &FieldError{"audience.active_within_days", "must be between 0 and 3650"}
	}
	if len(a.Tags) == 0 && a.Channel == "" && !a.Everyone {
		return &FieldError{"audience", "give tags or a channel, or set everyone: true to message every contact"}
	}
	c := &d.Content
	if (c.Text == "") == (c.Flow == "") {
		return &FieldError{"content", "give exactly one of text and flow"}
	}
	if len(c.Text) > maxTextBytes || !utf8.ValidString(c.Text) {
		return &FieldError{"content.text", fmt.Sprintf("must be valid UTF-8 of at most %d bytes", maxTextBytes)}
	}
	if c.Flow != "" && flowExists != nil && !flowExists(c.Flow) {
		return &FieldError{"content.flow", fmt.Sprintf("no flow %q is loaded", c.Flow)}
	}
	if d.ScheduleAt != nil {
		if d.ScheduleAt.Sub(now) > cfg.MaxScheduleAhead {
			return &FieldError{"schedule_at", fmt.Sprintf("more than %s ahead", cfg.MaxScheduleAhead)}
		}
		if d.ScheduleAt.Before(now) {
			t := now
			d.ScheduleAt = &t
		}
	}
	if d.Rate == nil {
		r := cfg.DefaultRate
		d.Rate = &r
	}
	return nil
}

// Progress is a campaign's state and counts.
type Progress struct {
	ID         string           `json:"id"`
	Name       string           `json:"name"`
	Status     string           `json:"status"`
	Audience   Audience         `json:"audience"`
	Content    followup.Content `json:"content"`
	Rate       string           `json:"rate"`
	ScheduleAt *time.Time       `json:"schedule_at,omitempty"`
	Created    time.Time        `json:"created"`
	Started    *time.Time       `json:"started,omitempty"`
	Finished   *time.Time       `json:"finished,omitempty"`
	// Error says why a failed campaign failed.
	Error string `json:"error,omitempty"`
	// Total is the audience size (known once planning ran).
	Total int64 `json:"total"`
	// Queued have not been handled yet; Sending are being sent right now;
	// Deferred wait for the end of their quiet hours.
	Queued   int64 `json:"queued"`
	Sending  int64 `json:"sending"`
	Deferred int64 `json:"deferred"`
	Sent     int64 `json:"sent"`
	Skipped  int64 `json:"skipped"`
	Failed   int64 `json:"failed"`
	// SkippedBy and FailedBy count by reason code.
	SkippedBy map[string]int64 `json:"skipped_by"`
	FailedBy  map[string]int64 `json:"failed_by"`
}

// Done is how many recipients are settled.
func (p *Progress) Done() int64 { return p.Sent + p.Skipped + p.Failed }

// Finished reports whether the campaign will send nothing more.
func (p *Progress) IsFinal() bool {
	return p.Status == StatusCompleted || p.Status == StatusCancelled || p.Status == StatusFailed
}
