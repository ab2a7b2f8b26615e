package followup_test

import (
	"context"
	"testing"

	"github.com/kefu-gateway/kefu/adapters/message"
	"github.com/kefu-gateway/kefu/internal/contacts"
	"github.com/kefu-gateway/kefu/internal/followup"
	"github.com/kefu-gateway/kefu/internal/store"
	"github.com/kefu-gateway/kefu/internal/testutil/redistest"
)

// A Redis that restarted (or had SCRIPT FLUSH) answers the observation's
// script hash with NOSCRIPT: the observer observes the slow way, which
// loads the script again, and the turn still gets the contact. The test
// has a Redis of its own (the embedded one), so flushing scripts disturbs
// no other test.
func TestObserverAfterRedisForgetsItsScripts(t *testing.T) {
	rdb := redistest.Private(t).Client
	cfg := contacts.Defaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	o := &followup.Observer{Contacts: contacts.NewStore(rdb, store.Keys{Prefix: "t:"}, cfg, nil)}
	ctx := context.Background()
	msg := message.Message{ID: "m1", Channel: "wechat_oa", Account: "oa", ConversationID: "wechat_oa:oa:o1",
		From: message.Party{ID: "o1", Role: message.RoleCustomer}, Kind: message.KindText, Text: "你好"}
	var first string
	for i := range 3 {
		if i > 0 {
			if err := rdb.ScriptFlush(ctx).Err(); err != nil {
				t.Fatal(err)
			}
		}
		pipe := rdb.Pipeline()
		read, err := o.ObservePipe(ctx, pipe, msg)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = pipe.Exec(ctx) // the script's NOSCRIPT is read by read()
		v, err := read()
		if err != nil {
			t.Fatalf("observation %d after SCRIPT FLUSH: %v", i, err)
		}
		if v.Contact.ID == "" || (first != "" && v.Contact.ID != first) {
			t.Fatalf("observation %d: contact %q, first %q", i, v.Contact.ID, first)
		}
		first = v.Contact.ID
	}
}
