package router

import (
	"sync"
	"time"

	"github.com/kefu-gateway/kefu/internal/clock"
)

// oneTripStatesMax bounds how many conversations' states a process keeps
// for one-trip turns (about half a kilobyte each). A forgotten one costs
// its next turn the two-trip path, no more.
const oneTripStatesMax = 1 << 15

// oneTripStates keeps, per conversation, the state and version this
// process committed last while the bot owned it. The next turn is answered
// from it before Redis is asked (see oneTrip); the commit's version check
// tells whether anything else committed meanwhile. The state is kept as
// the bytes committed, so a turn decodes exactly what a load would read.
type oneTripStates struct {
	mu sync.Mutex
	m  map[string]committedState
}

type committedState struct {
	version int64
	state   []byte
}

func newOneTripStates() *oneTripStates {
	return &oneTripStates{m: make(map[string]committedState)}
}

func (s *oneTripStates) get(conv string) (committedState, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.m[conv]
	return c, ok
}

// put remembers the state committed as version; when full, an arbitrary
// conversation is forgotten.
func (s *oneTripStates) put(conv string, version int64, state []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[conv]; !ok && len(s.m) >= oneTripStatesMax {
		for k := range s.m {
			delete(s.m, k)
			break
		}
	}
	s.m[conv] = committedState{version: version, state: state}
}

func (s *oneTripStates) drop(conv string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, conv)
}

// One-trip turns pause when too many of them find their conversation
// changed: processes behind a balancer without affinity see each
// customer's turns alternate, so the state each keeps is mostly stale and
// every guess would cost a wasted flow step and a second trip.
const (
	oneTripWindow   = 64               // guesses judged together
	oneTripMaxStale = 16               // stale guesses in a window that pause them
	oneTripPause    = 30 * time.Second // how long they pause
)

// oneTripGate decides whether turns try the one-trip path.
type oneTripGate struct {
	clock clock.Clock

	mu           sync.Mutex
	tries, stale int
	pausedUntil  time.Time
}

func (g *oneTripGate) allow() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.pausedUntil.IsZero() || !g.clock.Now().Before(g.pausedUntil)
}

// record counts a committed guess or a stale one, pausing the guesses for
// oneTripPause when a window held too many stale ones.
func (g *oneTripGate) record(stale bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.tries++
	if stale {
		g.stale++
	}
	if g.stale >= oneTripMaxStale {
		g.pausedUntil = g.clock.Now().Add(oneTripPause)
		g.tries, g.stale = 0, 0
		return
	}
	if g.tries >= oneTripWindow {
		g.tries, g.stale = 0, 0
	}
}
