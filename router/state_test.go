package router

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/kefu-gateway/kefu/adapters/message"
	"github.com/kefu-gateway/kefu/flows"
	"github.com/kefu-gateway/kefu/internal/metrics"
	"github.com/kefu-gateway/kefu/internal/store"
	"github.com/kefu-gateway/kefu/internal/testutil/redistest"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/zap"
)

func TestAnUnencodableStateStartsTheFlowOver(t *testing.T) {
	r := &Router{log: zap.NewNop(), metrics: metrics.New()}
	conv := &Conversation{ID: "c1", Turns: 3, Flow: flows.State{Flow: "count", Slots: map[string]any{"n": 2.0}}}
	b, err := r.encodeState(conv)
	if err != nil || !strings.Contains(string(b), `"slots":{"n":2}`) {
		t.Fatalf("a good state: %s %v", b, err)
	}
	conv.Flow.Slots["bad"] = math.NaN()
	conv.Ext = map[string]json.RawMessage{"k": json.RawMessage(`{}`)}
	b, err = r.encodeState(conv)
	if err != nil {
		t.Fatal(err)
	}
	var back Conversation
	if err := json.Unmarshal(b, &back); err != nil || back.ID != "c1" || back.Turns != 3 || back.Flow.Flow != "" ||
		back.Flow.Slots != nil || back.Ext != nil {
		t.Fatalf("after a bad state: %s %v", b, err)
	}
	var m dto.Metric
	if err := r.metrics.Errors.WithLabelValues("router").Write(&m); err != nil || m.GetCounter().GetValue() != 1 {
		t.Fatalf("errors counted %v (%v), want 1", m.GetCounter().GetValue(), err)
	}
}

// A one-trip commit observes the recalled contact in its own script: it
// commits only while the contact exists at the recalled version (empty:
// the field not set yet) and still holds the sender's identity, and then
// moves the identity's and the contact's times. A refused commit writes
// nothing, the message's mark and the times included, so its two-trip
// turn still runs and observes.
func TestOneTripCommitObservesTheContact(t *testing.T) {
	db := redistest.New(t)
	ctx := context.Background()
	r := New(Defaults(), Deps{Redis: db.Client, Keys: store.Keys{Prefix: "kefu:"}, Log: zap.NewNop()})
	const ik, before = "fake/a/u", `{"channel":"fake","account":"a","id":"u","first_seen":5,"last_inbound":5,"meta":[]}`
	for cid, pv := range map[string]string{"kept": "2", "new": ""} {
		fields := []any{"created", "1", "lin", "5", "last", "5"}
		if pv != "" {
			fields = append(fields, "pv", pv)
		}
		if err := db.Client.HSet(ctx, "kefu:c:"+cid, fields...).Err(); err != nil {
			t.Fatal(err)
		}
		if err := db.Client.HSet(ctx, "kefu:c:"+cid+":i", ik, before).Err(); err != nil {
			t.Fatal(err)
		}
	}
	const now = int64(1764000000123)
	for i, tc := range []struct {
		name     string
		cid, ik  string
		pv       string
		want     error
		touching string // the contact whose times move
	}{
		{"a contact that is gone", "gone", ik, "", errContactChanged, ""},
		{"a version the contact does not hold", "kept", ik, "3", errContactChanged, ""},
		{"an identity the contact no longer holds", "kept", "fake/a/other", "2", errContactChanged, ""},
		{"the recalled version", "kept", ik, "2", nil, "kept"},
		{"an empty version on a contact without one", "new", ik, "", nil, "new"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conv := &Conversation{ID: "fake:a:u" + strconv.Itoa(i)}
			dedup := r.keys.Dedup("fake", "a", "m"+strconv.Itoa(i))
			touch := []any{"kefu:", now + int64(i), tc.cid, tc.ik, tc.pv}
			pipe := db.Client.Pipeline()
			call, err := r.queueCommit(ctx, pipe, conv, commitOptions{oneTrip: &oneTripCommit{dedupKey: dedup, touch: touch}},
				[]message.Message{{ID: "m", ConversationID: conv.ID, Kind: message.KindText, Text: "hi"}})
			if err != nil {
				t.Fatal(err)
			}
			_, _ = pipe.Exec(ctx)
			if _, _, err := call.result(ctx); !errors.Is(err, tc.want) {
				t.Fatalf("commit: %v, want %v", err, tc.want)
			}
			seen, err := db.Client.Exists(ctx, dedup).Result()
			if err != nil || (seen == 1) != (tc.want == nil) {
				t.Fatalf("message marked seen: %d (%v), committed: %v", seen, err, tc.want == nil)
			}
			for _, cid := range []string{"kept", "new"} {
				at := "5"
				if cid == tc.touching {
					at = strconv.FormatInt(now+int64(i), 10)
				}
				h := db.Client.HMGet(ctx, "kefu:c:"+cid, "lin", "last", "il:"+ik).Val()
				il := "5"
				if h[2] != nil {
					il = h[2].(string)
				}
				if h[0] != at || h[1] != at || il != at {
					t.Fatalf("contact %s after the commit: lin %v, last %v, identity's last inbound %v; want the times at %s", cid, h[0], h[1], h[2], at)
				}
				if idt := db.Client.HGet(ctx, "kefu:c:"+cid+":i", ik).Val(); idt != before {
					t.Fatalf("contact %s: the identity's record became %s", cid, idt)
				}
				if score, err := db.Client.ZScore(ctx, "kefu:seen", cid).Result(); cid == tc.touching && (err != nil || strconv.FormatFloat(score, 'f', 0, 64) != at) {
					t.Fatalf("contact %s seen at %v (%v), want %s", cid, score, err, at)
				}
			}
			// Put the times back for the next case.
			for _, cid := range []string{"kept", "new"} {
				db.Client.HSet(ctx, "kefu:c:"+cid, "lin", "5", "last", "5")
				db.Client.HDel(ctx, "kefu:c:"+cid, "il:"+ik)
			}
		})
	}
}
