package wecomapp

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/kefu-gateway/kefu/internal/clock"
	"github.com/kefu-gateway/kefu/internal/testutil/redistest"
)

func newTestLimiter(t *testing.T, limit MemberLimit, c *clock.Fake) *memberLimiter {
	t.Helper()
	return &memberLimiter{rdb: redistest.New(t).Client, prefix: "kefu:wecomapp:sends:test:", limit: limit, now: c.Now}
}

// WeCom allows 30 messages a minute and 1000 an hour per member; the 31st
// send within a minute is booked a minute (plus the margin) after the first.
func TestMemberLimiterMinuteWindow(t *testing.T) {
	ctx := context.Background()
	t0 := time.UnixMilli(1_700_000_000_000)
	c := clock.NewFake(t0)
	l := newTestLimiter(t, MemberLimit{PerMinute: 30, PerHour: 1000, QueueSpacing: 2 * time.Second}, c)
	for i := 0; i < 30; i++ {
		at, err := l.Reserve(ctx, "zhangsan")
		if err != nil {
			t.Fatal(err)
		}
		if !at.Equal(c.Now()) {
			t.Fatalf("send %d booked at %s, want now", i+1, at.Sub(t0))
		}
		c.Advance(100 * time.Millisecond)
	}
	at, err := l.Reserve(ctx, "zhangsan")
	if err != nil {
		t.Fatal(err)
	}
	if want := t0.Add(time.Minute + safetyMargin); !at.Equal(want) {
		t.Fatalf("31st send booked at +%s, want +%s", at.Sub(t0), want.Sub(t0))
	}
	// The next one queues behind it, spaced, although the second slot of
	// the window frees 100 ms later: order is kept.
	at2, _ := l.Reserve(ctx, "zhangsan")
	if want := at.Add(2 * time.Second); !at2.Equal(want) {
		t.Fatalf("32nd send booked at +%s, want +%s", at2.Sub(t0), want.Sub(t0))
	}
	// Another member is not affected.
	if other, _ := l.Reserve(ctx, "lisi"); !other.Equal(c.Now()) {
		t.Fatalf("another member booked at +%s, want now", other.Sub(t0))
	}
	// Once the queue has drained and a minute has passed, sends go at once.
	c.Set(at2.Add(2 * time.Minute))
	if late, _ := l.Reserve(ctx, "zhangsan"); !late.Equal(c.Now()) {
		t.Fatalf("send after the window booked at +%s, want now", late.Sub(c.Now()))
	}
}

func TestMemberLimiterHourWindow(t *testing.T) {
	ctx := context.Background()
	t0 := time.UnixMilli(1_700_000_000_000)
	c := clock.NewFake(t0)
	l := newTestLimiter(t, MemberLimit{PerMinute: 5, PerHour: 8}, c)
	var booked []time.Time
	for i := 0; i < 9; i++ {
		at, err := l.Reserve(ctx, "zhangsan")
		if err != nil {
			t.Fatal(err)
		}
		booked = append(booked, at)
		c.Set(at.Add(time.Millisecond)) // the send happens at its slot
	}
	// 5 at once, 3 a minute later, and the ninth an hour after the first.
	if got := booked[5].Sub(t0); got < time.Minute || got > time.Minute+2*safetyMargin {
		t.Errorf("6th send at +%s, want about +1m", got)
	}
	if got := booked[8].Sub(t0); got != time.Hour+safetyMargin {
		t.Errorf("9th send at +%s, want +%s", got, time.Hour+safetyMargin)
	}
}

// Processes booking at the same time never exceed the limit: the log is
// updated atomically in Redis.
func TestMemberLimiterConcurrent(t *testing.T) {
	ctx := context.Background()
	t0 := time.UnixMilli(1_700_000_000_000)
	c := clock.NewFake(t0)
	l := newTestLimiter(t, MemberLimit{PerMinute: 10, PerHour: 1000}, c)
	var mu sync.Mutex
	now := 0
	var wg sync.WaitGroup
	for i := 0; i < 25; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			at, err := l.Reserve(ctx, "zhangsan")
			if err != nil {
				t.Error(err)
				return
			}
			if at.Equal(t0) {
				mu.Lock()
				now++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if now != 10 {
		t.Fatalf("%d of 25 concurrent sends booked for now, want exactly 10", now)
	}
}
