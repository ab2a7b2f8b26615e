package kfguard

import (
	"testing"

	"github.com/kefu-gateway/kefu/adapters/wecomkf"
	"github.com/kefu-gateway/kefu/handoff"
)

var _ handoff.ServicerTransferrer = (*wecomkf.Account)(nil)

func TestKindNameMatches(t *testing.T) {
	if wecomkf.Kind != handoff.KFChannel {
		t.Fatalf("wecomkf.Kind = %q, handoff.KFChannel = %q", wecomkf.Kind, handoff.KFChannel)
	}
	// handoff reads the open_kfid from conversation ids of this form
	// (handoff/kf_test.go uses it).
	if conv := wecomkf.ConversationID("acct", "wkAAA", "wm1"); conv != "wecom_kf:acct:wkAAA/wm1" {
		t.Fatalf("the adapter's conversation id is now %q", conv)
	}
}
