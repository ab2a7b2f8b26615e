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

// A one-trip commit's contact guard holds only while the guarded hash
// exists with the remembered value; a value remembered as empty (the field
// not set yet) still needs the hash to exist. A refused commit leaves the
// message unmarked, so its two-trip turn still runs.
func TestOneTripCommitChecksTheGuard(t *testing.T) {
	db := redistest.New(t)
	ctx := context.Background()
	r := New(Defaults(), Deps{Redis: db.Client, Keys: store.Keys{Prefix: "kefu:"}, Log: zap.NewNop()})
	if err := db.Client.HSet(ctx, "kefu:c:kept", "created", "1").Err(); err != nil {
		t.Fatal(err)
	}
	for i, tc := range []struct {
		name  string
		guard Guard
		want  error
	}{
		{"an empty value on a hash that is gone", Guard{Key: "kefu:c:gone", Field: "pv", Value: ""}, errContactChanged},
		{"a value the hash does not hold", Guard{Key: "kefu:c:kept", Field: "pv", Value: "2"}, errContactChanged},
		{"an empty value on a hash without the field", Guard{Key: "kefu:c:kept", Field: "pv", Value: ""}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conv := &Conversation{ID: "fake:a:u" + strconv.Itoa(i)}
			dedup := r.keys.Dedup("fake", "a", "m"+strconv.Itoa(i))
			pipe := db.Client.Pipeline()
			call, err := r.queueCommit(ctx, pipe, conv, commitOptions{oneTrip: &oneTripCommit{dedupKey: dedup, guard: tc.guard}},
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
		})
	}
}
