package llm

import (
	"sync"
	"time"

	"github.com/kefu-gateway/kefu/internal/clock"
)

// BreakerState is the circuit breaker's state.
type BreakerState string

// Breaker states.
const (
	// BreakerClosed lets every request through.
	BreakerClosed BreakerState = "closed"
	// BreakerOpen lets none through until the cool-down has passed.
	BreakerOpen BreakerState = "open"
	// BreakerHalfOpen lets exactly one probe through; its outcome closes or
	// reopens the breaker.
	BreakerHalfOpen BreakerState = "half_open"
)

// Breaker is a consecutive-failure circuit breaker: after Failures failed
// attempts in a row it opens; after Cooldown one probe may pass (half-open);
// the probe's success closes it, its failure opens it for another Cooldown.
// While the LLM is down, callers get ErrCircuitOpen at once instead of
// spending the channel's reply budget on a timeout.
type Breaker struct {
	failures int
	cooldown time.Duration
	clock    clock.Clock
	onChange func(BreakerState)

	mu          sync.Mutex
	state       BreakerState
	consecutive int
	openedAt    time.Time
	probing     bool
}

// NewBreaker returns a closed breaker. onChange (may be nil) is called, with
// the breaker's lock held, on every state change.
func NewBreaker(failures int, cooldown time.Duration, clk clock.Clock, onChange func(BreakerState)) *Breaker {
	if failures < 1 {
		failures = 1
	}
	if clk == nil {
		clk = clock.Real{}
	}
	return &Breaker{failures: failures, cooldown: cooldown, clock: clk, onChange: onChange, state: BreakerClosed}
}

// State returns the current state, moving open to half-open when the
// cool-down has passed.
func (b *Breaker) State() BreakerState {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.advance()
	return b.state
}

func (b *Breaker) set(s BreakerState) {
	if b.state != s {
		b.state = s
		if b.onChange != nil {
			b.onChange(s)
		}
	}
}

func (b *Breaker) advance() {
	if b.state == BreakerOpen && !b.clock.Now().Before(b.openedAt.Add(b.cooldown)) {
		b.set(BreakerHalfOpen)
		b.probing = false
	}
}

// Allow reports whether an attempt may be made now. In half-open state only
// the first caller gets true (the probe) until it reports its outcome.
func (b *Breaker) Allow() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.advance()
	switch b.state {
	case BreakerClosed:
		return true
	case BreakerHalfOpen:
		if b.probing {
			return false
		}
		b.probing = true
		return true
	}
	return false
}

// Success records a successful attempt: the breaker closes.
func (b *Breaker) Success() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.consecutive = 0
	b.probing = false
	b.set(BreakerClosed)
}

// Failure records a failed attempt.
func (b *Breaker) Failure() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.consecutive++
	if b.state == BreakerHalfOpen || b.consecutive >= b.failures {
		b.openedAt = b.clock.Now()
		b.probing = false
		b.set(BreakerOpen)
	}
}

// Release ends an allowed attempt that neither succeeded nor failed (the
// caller canceled it), freeing the half-open probe slot.
func (b *Breaker) Release() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.probing = false
}
