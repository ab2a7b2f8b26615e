// Package pubsub fans conversation events out to every kefu process over
// Redis pub/sub, so a reply produced anywhere (a worker, another `kefu serve`)
// reaches the process holding the customer's WebSocket.
//
// One Hub per process holds one Redis pub/sub connection. A conversation's
// channel is subscribed while at least one local listener wants it.
package pubsub

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/kefu-gateway/kefu/internal/store"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// Event kinds, the first byte of every payload.
const (
	// KindEntry is a new transcript entry: payload "m<entry id>\n<message JSON>".
	KindEntry = 'm'
	// KindStream is a piece of a reply being generated (LLM tokens):
	// payload "s<JSON>". It is not stored; the finished reply arrives as an entry.
	KindStream = 's'
)

// Event is one conversation event.
type Event struct {
	Kind byte
	// ID is the transcript entry id for KindEntry.
	ID   string
	Data []byte
}

// EncodeEntry builds the payload of a KindEntry event.
func EncodeEntry(id string, msgJSON []byte) string {
	var b strings.Builder
	b.Grow(len(id) + len(msgJSON) + 2)
	b.WriteByte(KindEntry)
	b.WriteString(id)
	b.WriteByte('\n')
	b.Write(msgJSON)
	return b.String()
}

// Decode parses a payload.
func Decode(payload string) (Event, error) {
	if payload == "" {
		return Event{}, errors.New("empty event")
	}
	switch payload[0] {
	case KindEntry:
		id, data, ok := strings.Cut(payload[1:], "\n")
		if !ok || id == "" {
			return Event{}, errors.New("malformed entry event")
		}
		return Event{Kind: KindEntry, ID: id, Data: []byte(data)}, nil
	case KindStream:
		return Event{Kind: KindStream, Data: []byte(payload[1:])}, nil
	default:
		return Event{}, errors.New("unknown event kind")
	}
}

// ErrLagged closes a listener that fell too far behind; its owner should
// catch up from the transcript and subscribe again.
var ErrLagged = errors.New("listener fell behind")

// Hub is the process's pub/sub connection.
type Hub struct {
	rdb  redis.UniversalClient
	keys store.Keys
	log  *zap.Logger

	mu     sync.Mutex
	ps     *redis.PubSub
	topics map[string]*topic
	closed bool
}

type topic struct {
	ready     chan struct{}
	readyOnce sync.Once
	listeners map[*Listener]struct{}
}

// Listener receives one conversation's events.
type Listener struct {
	// C delivers events; it is closed when the listener is closed or lags.
	C       <-chan Event
	c       chan Event
	hub     *Hub
	channel string
	once    sync.Once
	err     error
}

// Err reports why C was closed: nil after Close, ErrLagged after overflow.
func (l *Listener) Err() error {
	l.hub.mu.Lock()
	defer l.hub.mu.Unlock()
	return l.err
}

// Close stops the listener.
func (l *Listener) Close() { l.hub.remove(l, nil) }

const listenerBuffer = 256

// New returns a hub; call Run to start receiving.
func New(rdb redis.UniversalClient, keys store.Keys, log *zap.Logger) *Hub {
	h := &Hub{rdb: rdb, keys: keys, log: log, topics: map[string]*topic{}}
	// Subscribing to a channel of our own opens the connection at once, so
	// Receive has something to read from before any listener exists.
	h.ps = rdb.Subscribe(context.Background(), keys.Prefix+"pub:_hub")
	return h
}

// Publish sends an event to every process listening to conv.
func (h *Hub) Publish(ctx context.Context, conv string, payload string) error {
	if err := h.rdb.Publish(ctx, h.keys.ConversationChannel(conv), payload).Err(); err != nil {
		return fmt.Errorf("publishing conversation event: %w", err)
	}
	return nil
}

// Subscribe returns a listener for conv's events. It returns once Redis has
// confirmed the subscription, so anything published afterwards is received;
// callers catch up on earlier entries from the transcript.
func (h *Hub) Subscribe(ctx context.Context, conv string) (*Listener, error) {
	ch := h.keys.ConversationChannel(conv)
	c := make(chan Event, listenerBuffer)
	l := &Listener{C: c, c: c, hub: h, channel: ch}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil, errors.New("pubsub hub closed")
	}
	t, ok := h.topics[ch]
	if !ok {
		t = &topic{ready: make(chan struct{}), listeners: map[*Listener]struct{}{}}
		h.topics[ch] = t
		if err := h.ps.Subscribe(ctx, ch); err != nil {
			delete(h.topics, ch)
			h.mu.Unlock()
			return nil, fmt.Errorf("subscribing to conversation events: %w", err)
		}
	}
	t.listeners[l] = struct{}{}
	h.mu.Unlock()
	select {
	case <-t.ready:
		return l, nil
	case <-ctx.Done():
		l.Close()
		return nil, ctx.Err()
	case <-time.After(5 * time.Second):
		l.Close()
		return nil, errors.New("subscribing to conversation events: no confirmation from redis in 5s")
	}
}

func (h *Hub) remove(l *Listener, reason error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	l.once.Do(func() {
		l.err = reason
		close(l.c)
		t := h.topics[l.channel]
		if t == nil {
			return
		}
		delete(t.listeners, l)
		if len(t.listeners) == 0 {
			delete(h.topics, l.channel)
			if !h.closed {
				_ = h.ps.Unsubscribe(context.Background(), l.channel)
			}
		}
	})
}

// Run receives events until ctx ends. go-redis reconnects and resubscribes
// by itself after a connection loss; events published meanwhile are missed,
// which is why listeners catch up from the transcript.
func (h *Hub) Run(ctx context.Context) error {
	go func() {
		<-ctx.Done()
		h.Close()
	}()
	for {
		msg, err := h.ps.Receive(ctx)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, redis.ErrClosed) || h.isClosed() {
				return nil
			}
			h.log.Warn("pubsub receive failed; retrying", zap.Error(err))
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(200 * time.Millisecond):
			}
			continue
		}
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" {
				h.mu.Lock()
				if t := h.topics[m.Channel]; t != nil {
					t.readyOnce.Do(func() { close(t.ready) })
				}
				h.mu.Unlock()
			}
		case *redis.Message:
			h.dispatch(m)
		}
	}
}

func (h *Hub) dispatch(m *redis.Message) {
	ev, err := Decode(m.Payload)
	if err != nil {
		h.log.Debug("dropping malformed pubsub event", zap.String("channel", m.Channel), zap.Error(err))
		return
	}
	var lagged []*Listener
	h.mu.Lock()
	if t := h.topics[m.Channel]; t != nil {
		for l := range t.listeners {
			select {
			case l.c <- ev:
			default:
				lagged = append(lagged, l)
			}
		}
	}
	h.mu.Unlock()
	for _, l := range lagged {
		h.remove(l, ErrLagged)
	}
}

func (h *Hub) isClosed() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.closed
}

// Close closes every listener and the pub/sub connection.
func (h *Hub) Close() {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	h.closed = true
	var all []*Listener
	for _, t := range h.topics {
		for l := range t.listeners {
			all = append(all, l)
		}
	}
	h.mu.Unlock()
	for _, l := range all {
		h.remove(l, nil)
	}
	_ = h.ps.Close()
}
