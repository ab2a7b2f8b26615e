package handoff_test

import (
	"testing"

	"github.com/kefu-gateway/kefu/handoff"
)

// An agent who ends a conversation between its claim and the claim being
// carried out (which sets the owner) still gives the customer back to the
// bot: the owner the assignment never got to set is cleared all the same,
// instead of trapping the customer behind "queue:…" until they write again.
func TestEndBeforeTheAssignmentIsCarriedOutFreesTheCustomer(t *testing.T) {
	e := setup(t, options{})
	e.agent("alice-wx", "/online")
	handoff.SetAfterClaim(e.svc, func(conv string) {
		handoff.SetAfterClaim(e.svc, nil)
		if err := e.acceptErr(e.agentMessage("alice-wx", "/end")); err != nil {
			t.Error(err)
		}
	})
	e.askHuman("u1")
	e.settle()
	if d := e.detail("u1"); d.Status != handoff.StatusResolved {
		t.Fatalf("u1's handoff = %s, want resolved by the /end", d.Status)
	}
	if o := e.owner("u1"); o != "" {
		t.Fatalf("u1's owner = %q after the handoff ended; the bot must answer", o)
	}
}
