package normalize

import "testing"

func TestConversationID(t *testing.T) {
	s := Source{Channel: "wechat_oa", Account: "shop"}
	if got := s.ConversationID("oUser1"); got != "wechat_oa:shop:oUser1" {
		t.Fatalf("ConversationID = %q", got)
	}
	if s.ConversationID("a") == (Source{Channel: "wechat_mp", Account: "shop"}).ConversationID("a") {
		t.Fatal("different channels share a conversation id")
	}
}

func TestEventID(t *testing.T) {
	a := EventID("oUser1", 1700000000, "subscribe")
	if a != "oUser1-1700000000-subscribe" {
		t.Fatalf("EventID = %q", a)
	}
	if a == EventID("oUser1", 1700000000, "click") || a == EventID("oUser1", 1700000001, "subscribe") || a == EventID("oUser2", 1700000000, "subscribe") {
		t.Fatal("EventID collides for different events")
	}
}
