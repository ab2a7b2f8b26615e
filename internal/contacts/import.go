package contacts

import (
	"context"
	"fmt"
)

// MaxImport is the most contacts one Import takes.
const MaxImport = 1000

// ImportItem is one contact to create or update by its channel identity.
type ImportItem struct {
	Identity Identity `json:"identity"`
	Update
}

// Import creates or updates contacts by identity (an operator bringing a
// customer list from a CRM, a test seeding an audience) in one round trip,
// and returns their ids in order. Every item is validated before anything
// is written; an item that would pass a bound (max_tags ...) fails the call
// after the items before it were written.
func (s *Store) Import(ctx context.Context, items []ImportItem) ([]string, error) {
	if len(items) > MaxImport {
		return nil, &ValidationError{"contacts", fmt.Sprintf("at most %d per import (got %d)", MaxImport, len(items))}
	}
	args := make([][]any, len(items))
	for i, it := range items {
		if err := it.Identity.validate(); err != nil {
			return nil, &ValidationError{fmt.Sprintf("contacts[%d].identity.%s", i, err.(*ValidationError).Field), err.(*ValidationError).Msg}
		}
		if err := it.Update.Validate(); err != nil {
			ve := err.(*ValidationError)
			return nil, &ValidationError{fmt.Sprintf("contacts[%d].%s", i, ve.Field), ve.Msg}
		}
		ops, err := s.ops(it.Update)
		if err != nil {
			return nil, err
		}
		id := it.Identity
		args[i] = s.args("", id.Channel, id.Account, id.ID, id.UnionID, id.ConversationID, NewID(), ops)
	}
	if len(items) == 0 {
		return []string{}, nil
	}
	if err := updateScript.Load(ctx, s.rdb).Err(); err != nil {
		return nil, fmt.Errorf("loading contact script: %w", err)
	}
	pipe := s.rdb.Pipeline()
	keys := []string{s.keys.Slot()}
	for _, a := range args {
		updateScript.EvalSha(ctx, pipe, keys, a...)
	}
	cmds, err := pipe.Exec(ctx)
	if err != nil {
		return nil, fmt.Errorf("importing contacts: %w", err)
	}
	ids := make([]string, len(cmds))
	for i, cmd := range cmds {
		res, err := cmd.(interface{ Slice() ([]any, error) }).Slice()
		if err != nil {
			return nil, fmt.Errorf("importing contacts: %w", err)
		}
		c, err := s.result(res)
		if err != nil {
			return nil, fmt.Errorf("importing contacts[%d]: %w", i, err)
		}
		ids[i] = c.ID
	}
	return ids, nil
}
