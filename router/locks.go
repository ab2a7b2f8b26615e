package router

import "sync"

// convLocks serializes turns of one conversation inside this process, so a
// customer's messages are handled in order. Across processes the commit's
// compare-and-set keeps state consistent.
type convLocks struct {
	mu sync.Mutex
	m  map[string]*convLock
}

type convLock struct {
	mu   sync.Mutex
	refs int
}

func (l *convLocks) lock(id string) func() {
	l.mu.Lock()
	if l.m == nil {
		l.m = map[string]*convLock{}
	}
	c := l.m[id]
	if c == nil {
		c = &convLock{}
		l.m[id] = c
	}
	c.refs++
	l.mu.Unlock()
	c.mu.Lock()
	return func() {
		c.mu.Unlock()
		l.mu.Lock()
		c.refs--
		if c.refs == 0 {
			delete(l.m, id)
		}
		l.mu.Unlock()
	}
}
