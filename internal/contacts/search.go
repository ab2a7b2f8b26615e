package contacts

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/kefu-gateway/kefu/internal/store"
	"github.com/redis/go-redis/v9"
)

// Query selects contacts for the operator API.
type Query struct {
	// Tags: contacts with every one of them.
	Tags []string
	// Channel (and Account): contacts with an identity there.
	Channel string
	Account string
	// Cursor continues a previous page ("" = first page).
	Cursor string
	// Limit is the page size (default 50, at most 500).
	Limit int
}

// Page is one page of contacts; Next is "" on the last page.
type Page struct {
	Contacts []*Contact `json:"contacts"`
	Next     string     `json:"next,omitempty"`
}

// Search pages through contacts with all of q.Tags (and an identity on
// q.Channel), or, with neither, through every contact, most recently seen
// first. A page holds about q.Limit contacts.
func (s *Store) Search(ctx context.Context, q Query) (*Page, error) {
	if q.Limit <= 0 {
		q.Limit = 50
	}
	q.Limit = min(q.Limit, 500)
	for _, t := range q.Tags {
		if err := ValidTag(t); err != nil {
			return nil, &ValidationError{"tag", err.Error()}
		}
	}
	if len(q.Tags) == 0 && q.Channel == "" {
		return s.recent(ctx, q)
	}
	sets := make([]string, 0, len(q.Tags)+1)
	for _, t := range q.Tags {
		sets = append(sets, s.keys.Tag(t))
	}
	if q.Channel != "" {
		sets = append(sets, s.keys.Channel(q.Channel, q.Account))
	}
	cursor := uint64(0)
	if q.Cursor != "" {
		c, err := strconv.ParseUint(q.Cursor, 10, 64)
		if err != nil {
			return nil, &ValidationError{"cursor", "not a cursor returned by this API"}
		}
		cursor = c
	}
	var ids []string
	for {
		batch, next, err := s.rdb.SScan(ctx, sets[0], cursor, "", int64(q.Limit)).Result()
		if err != nil {
			return nil, fmt.Errorf("searching contacts: %w", err)
		}
		batch, err = s.filterMembers(ctx, batch, sets[1:])
		if err != nil {
			return nil, err
		}
		ids = append(ids, batch...)
		cursor = next
		if cursor == 0 || len(ids) >= q.Limit {
			break
		}
	}
	cs, err := s.GetMany(ctx, ids)
	if err != nil {
		return nil, err
	}
	p := &Page{Contacts: cs}
	if cursor != 0 {
		p.Next = strconv.FormatUint(cursor, 10)
	}
	return p, nil
}

// filterMembers keeps the ids that are members of every set.
func (s *Store) filterMembers(ctx context.Context, ids []string, sets []string) ([]string, error) {
	if len(ids) == 0 || len(sets) == 0 {
		return ids, nil
	}
	members := make([]any, len(ids))
	for i, id := range ids {
		members[i] = id
	}
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.BoolSliceCmd, len(sets))
	for i, set := range sets {
		cmds[i] = pipe.SMIsMember(ctx, set, members...)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("searching contacts: %w", err)
	}
	out := ids[:0]
	for i, id := range ids {
		keep := true
		for _, c := range cmds {
			if !c.Val()[i] {
				keep = false
				break
			}
		}
		if keep {
			out = append(out, id)
		}
	}
	return out, nil
}

func (s *Store) recent(ctx context.Context, q Query) (*Page, error) {
	offset := int64(0)
	if q.Cursor != "" {
		o, err := strconv.ParseInt(q.Cursor, 10, 64)
		if err != nil || o < 0 {
			return nil, &ValidationError{"cursor", "not a cursor returned by this API"}
		}
		offset = o
	}
	ids, err := s.rdb.ZRevRange(ctx, s.keys.Seen(), offset, offset+int64(q.Limit)-1).Result()
	if err != nil {
		return nil, fmt.Errorf("listing contacts: %w", err)
	}
	cs, err := s.GetMany(ctx, ids)
	if err != nil {
		return nil, err
	}
	p := &Page{Contacts: cs}
	if len(ids) == q.Limit {
		p.Next = strconv.FormatInt(offset+int64(q.Limit), 10)
	}
	return p, nil
}

// GetMany reads contacts by id in one round trip, skipping missing ones.
func (s *Store) GetMany(ctx context.Context, ids []string) ([]*Contact, error) {
	each, err := s.GetEach(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make([]*Contact, 0, len(each))
	for _, c := range each {
		if c != nil {
			out = append(out, c)
		}
	}
	return out, nil
}

// GetEach reads contacts by id in one round trip; the result lines up with
// ids, nil where a contact does not exist. A contact merged into another
// comes back as that one (its ID differs from the one asked for).
func (s *Store) GetEach(ctx context.Context, ids []string) ([]*Contact, error) {
	out := make([]*Contact, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	run := func() ([]*redis.Cmd, error) {
		pipe := s.rdb.Pipeline()
		cmds := make([]*redis.Cmd, len(ids))
		for i, id := range ids {
			cmds[i] = readScript.EvalSha(ctx, pipe, []string{s.keys.Slot()}, s.args(id, "", "", "")...)
		}
		_, err := pipe.Exec(ctx)
		return cmds, err
	}
	cmds, err := run()
	if store.IsNoScript(err) {
		if err := readScript.Load(ctx, s.rdb).Err(); err != nil {
			return nil, fmt.Errorf("loading contact script: %w", err)
		}
		cmds, err = run()
	}
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("reading contacts: %w", err)
	}
	for i, cmd := range cmds {
		v, err := cmd.Result()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading contacts: %w", err)
		}
		c, err := decodeContact(v)
		if err != nil {
			return nil, err
		}
		out[i] = c
	}
	return out, nil
}
