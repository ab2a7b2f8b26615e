package router

import (
	"strconv"
	"testing"
	"time"

	"github.com/kefu-gateway/kefu/internal/clock"
)

// Guesses pause for oneTripPause once a window holds oneTripMaxStale stale
// ones, and resume after; a few stale ones in a window do not pause them.
func TestOneTripGatePausesWhenGuessesGoStale(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	g := &oneTripGate{clock: clk}
	for i := 0; i < 10*oneTripWindow; i++ {
		g.record(i%oneTripWindow < oneTripMaxStale-1)
		if !g.allow() {
			t.Fatalf("paused after %d guesses with %d stale per window", i+1, oneTripMaxStale-1)
		}
	}
	for i := 0; i < oneTripMaxStale; i++ {
		g.record(true)
	}
	if g.allow() {
		t.Fatal("still guessing after a window of stale guesses")
	}
	clk.Advance(oneTripPause - time.Second)
	if g.allow() {
		t.Fatal("resumed before the pause ended")
	}
	clk.Advance(time.Second)
	if !g.allow() {
		t.Fatal("did not resume after the pause")
	}
}

func TestOneTripStatesAreBounded(t *testing.T) {
	s := newOneTripStates()
	for i := 0; i < oneTripStatesMax+100; i++ {
		s.put("c"+strconv.Itoa(i), int64(i), []byte("{}"))
	}
	if n := len(s.m); n != oneTripStatesMax {
		t.Fatalf("%d states kept, want %d", n, oneTripStatesMax)
	}
	last := "c" + strconv.Itoa(oneTripStatesMax+99)
	if c, ok := s.get(last); !ok || c.version != oneTripStatesMax+99 {
		t.Fatalf("the newest state is %+v %v", c, ok)
	}
	s.drop(last)
	if _, ok := s.get(last); ok {
		t.Fatal("a dropped state is still kept")
	}
}
