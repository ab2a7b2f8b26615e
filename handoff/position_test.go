package handoff_test

import (
	"testing"
	"time"

	"github.com/kefu-gateway/kefu/internal/clock"
)

// A waiting customer who keeps writing is told their place at most once per
// position_interval, not on every message.
func TestPositionUpdatesAreThrottled(t *testing.T) {
	fake := clock.NewFake(time.Date(2026, 3, 9, 10, 0, 0, 0, time.FixedZone("CST", 8*3600)))
	e := setup(t, options{clock: fake, handoff: `
agent_channel: fake
position_interval: 1m
agents:
  - { id: alice, name: Alice, wecom_user: alice-wx, wecom_app: WECOM }
`})
	e.askHuman("u1") // alice is offline: u1 waits
	e.waitFor(e.shop, "u1", "排在第 1 位")
	e.customer("u1", "还要多久")
	e.customer("u1", "在吗")
	e.settle()
	if n := countWith(e.shop, "u1", "排在第"); n != 1 {
		t.Fatalf("told the place %d times within a minute, want once", n)
	}
	fake.Advance(61 * time.Second)
	e.customer("u1", "还在排队吗")
	e.waitCount(e.shop, "u1", "排在第 1 位", 2)
	e.customer("u1", "好的")
	e.settle()
	if n := countWith(e.shop, "u1", "排在第"); n != 2 {
		t.Fatalf("told the place %d times, want twice (once per minute)", n)
	}
}
