package followup

import (
	"context"
	"fmt"

	"github.com/kefu-gateway/kefu/adapters/message"
	"github.com/kefu-gateway/kefu/flows"
	"github.com/kefu-gateway/kefu/internal/contacts"
	"github.com/kefu-gateway/kefu/router"
)

// Effects carries out the flows' follow-up and contact actions after a
// turn: followup, followup_cancel, contact_set, tag_add and tag_remove.
// Other actions (handoff ...) go to Next. Install it as the router's
// EffectRunner:
//
//	r.SetHooks(router.Hooks{Effects: &followup.Effects{Scheduler: s, Contacts: cs, Next: handoffEffects}})
type Effects struct {
	Scheduler *Scheduler
	Contacts  *contacts.Store
	Next      router.EffectRunner
}

var _ router.EffectRunner = (*Effects)(nil)

// RunEffect implements router.EffectRunner.
func (e *Effects) RunEffect(ctx context.Context, conv router.Conversation, in message.Message, a flows.Action) error {
	if conv.Customer.ID == "" {
		conv.Customer = in.From
	}
	if conv.Channel == "" {
		conv.ID, conv.Channel, conv.Account = in.ConversationID, in.Channel, in.Account
	}
	ident := contacts.Identity{Channel: conv.Channel, Account: conv.Account, ID: conv.Customer.ID,
		UnionID: conv.Customer.UnionID, ConversationID: conv.ID}
	var err error
	switch a.Kind {
	case flows.ActionFollowup:
		_, err = e.Scheduler.Schedule(ctx, conv, Followup{ID: a.FollowupID, Delay: a.Delay, At: a.At, Text: a.Text,
			Flow: a.Flow, CancelOnReply: a.CancelOnReply, Source: "flow"})
	case flows.ActionFollowupCancel:
		_, err = e.Scheduler.Cancel(ctx, conv, a.FollowupID)
	case flows.ActionContactSet:
		_, err = e.Contacts.UpdateByIdentity(ctx, ident, contacts.Update{SetAttributes: map[string]string{a.Key: a.Value}})
	case flows.ActionTagAdd:
		_, err = e.Contacts.UpdateByIdentity(ctx, ident, contacts.Update{AddTags: a.Tags})
	case flows.ActionTagRemove:
		_, err = e.Contacts.UpdateByIdentity(ctx, ident, contacts.Update{RemoveTags: a.Tags})
	default:
		if e.Next != nil {
			return e.Next.RunEffect(ctx, conv, in, a)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("carrying out the flow's %s action: %w", a.Kind, err)
	}
	return nil
}
