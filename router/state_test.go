package router

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/kefu-gateway/kefu/flows"
	"github.com/kefu-gateway/kefu/internal/metrics"
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
