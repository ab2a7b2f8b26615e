package handoff

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/kefu-gateway/kefu/adapters/message"
	"github.com/kefu-gateway/kefu/internal/contacts"
	"github.com/redis/go-redis/v9"
)

// CustomerRef names a customer for the tag store: their conversation and
// their identity on its channel account.
type CustomerRef struct {
	Conversation string
	Channel      string
	Account      string
	Customer     message.Party
}

// ref is the customer of r.
func (r *Record) ref() CustomerRef {
	return CustomerRef{Conversation: r.Conversation, Channel: r.Channel, Account: r.Account, Customer: r.Customer}
}

// Tagger keeps the tags agents put on customers (/tag VIP) and shows them
// in notices. ContactTags keeps them on the customer's contact profile
// (internal/contacts), where flows, follow-ups and campaigns see them;
// RedisTags is the fallback for a build without contacts.
type Tagger interface {
	AddTags(ctx context.Context, c CustomerRef, tags []string) error
	Tags(ctx context.Context, c CustomerRef) ([]string, error)
}

// ContactTags is a Tagger on the contacts store.
type ContactTags struct{ Store *contacts.Store }

var _ Tagger = ContactTags{}

func identity(c CustomerRef) contacts.Identity {
	return contacts.Identity{Channel: c.Channel, Account: c.Account, ID: c.Customer.ID, UnionID: c.Customer.UnionID,
		ConversationID: c.Conversation}
}

// AddTags adds tags to the customer's contact, creating it if need be.
func (t ContactTags) AddTags(ctx context.Context, c CustomerRef, tags []string) error {
	if _, err := t.Store.UpdateByIdentity(ctx, identity(c), contacts.Update{AddTags: tags}); err != nil {
		return fmt.Errorf("tagging contact: %w", err)
	}
	return nil
}

// Tags returns the contact's tags (none for a customer with no contact yet).
func (t ContactTags) Tags(ctx context.Context, c CustomerRef) ([]string, error) {
	ct, err := t.Store.ByIdentity(ctx, identity(c))
	if errors.Is(err, contacts.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading contact tags: %w", err)
	}
	tags := append([]string(nil), ct.Tags...)
	sort.Strings(tags)
	return tags, nil
}

// RedisTags is a Tagger keeping a Redis set per conversation
// (kefu:contact:{<conv>}:tags), for builds without the contacts store.
type RedisTags struct {
	rdb  redis.UniversalClient
	keys keys
}

var _ Tagger = RedisTags{}

// AddTags adds tags to the conversation's set.
func (t RedisTags) AddTags(ctx context.Context, c CustomerRef, tags []string) error {
	if len(tags) == 0 {
		return nil
	}
	members := make([]any, len(tags))
	for i, tag := range tags {
		members[i] = tag
	}
	if err := t.rdb.SAdd(ctx, t.keys.tags(c.Conversation), members...).Err(); err != nil {
		return fmt.Errorf("tagging contact: %w", err)
	}
	return nil
}

// Tags returns the conversation's tags, sorted.
func (t RedisTags) Tags(ctx context.Context, c CustomerRef) ([]string, error) {
	tags, err := t.rdb.SMembers(ctx, t.keys.tags(c.Conversation)).Result()
	if err != nil {
		return nil, fmt.Errorf("reading contact tags: %w", err)
	}
	sort.Strings(tags)
	return tags, nil
}
