package handoff

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/redis/go-redis/v9"
)

// MountAdmin adds the handoff's operator API under r (the lead mounts it
// at /admin/api, behind the bearer token):
//
//	GET  /handoff/queues                queues: open now, waiting, longest wait, agents online
//	GET  /handoff/waiting[?queue=ID]    waiting conversations with position and wait time
//	GET  /handoff/agents                agents: presence, load, capacity, conversations
//	GET  /handoff/conversations/{id}    a conversation's handoff record, notes and ratings
//	POST /handoff/requests              {"conversation_id", "queue"?, "reason"?}: hand it to a human
//	GET  /handoff/messages[?limit=N]    messages customers left for the agents, newest first
//	GET  /handoff/csat                  each agent's ratings
//
// It implements app.AdminMounter.
func (s *Service) MountAdmin(r fiber.Router) {
	g := r.Group("/handoff")
	g.Get("/queues", func(c *fiber.Ctx) error {
		qs, err := s.Queues(c.UserContext())
		return reply(c, qs, err)
	})
	g.Get("/waiting", func(c *fiber.Ctx) error {
		q := c.Query("queue")
		if q != "" {
			if _, ok := s.queues[q]; !ok {
				return c.Status(fiber.StatusNotFound).JSON(fiber.Map{"error": fmt.Sprintf("no queue %q", q)})
			}
		}
		ws, err := s.Waiting(c.UserContext(), q)
		return reply(c, ws, err)
	})
	g.Get("/agents", func(c *fiber.Ctx) error {
		as, err := s.Agents(c.UserContext())
		return reply(c, as, err)
	})
	g.Get("/csat", func(c *fiber.Ctx) error {
		rs, err := s.Ratings(c.UserContext())
		return reply(c, rs, err)
	})
	g.Get("/messages", func(c *fiber.Ctx) error {
		n := c.QueryInt("limit", 50)
		if n < 1 || n > 1000 {
			return c.Status(fiber.StatusBadRequest).JSON(fiber.Map{"error": "limit must be between 1 and 1000"})
		}
		ms, err := s.LeftMessages(c.UserContext(), n)
		if err == nil {
			err = s.markCalledBack(c.UserContext(), ms)
		}
		return reply(c, ms, err)
	})
	g.Get("/conversations/:id", func(c *fiber.Ctx) error {
		id, err := url.PathUnescape(c.Params("id"))
		if err != nil {
			return c.Status(fiber.StatusBadRequest).JSON(fiber.Map{"error": "bad conversation id"})
		}
		d, err := s.Detail(c.UserContext(), id)
		if err == nil && d == nil {
			return c.Status(fiber.StatusNotFound).JSON(fiber.Map{"error": "no handoff for this conversation"})
		}
		return reply(c, d, err)
	})
	g.Post("/requests", func(c *fiber.Ctx) error {
		var body struct {
			ConversationID string `json:"conversation_id"`
			Queue          string `json:"queue"`
			Reason         string `json:"reason"`
		}
		if err := json.Unmarshal(c.Body(), &body); err != nil || body.ConversationID == "" {
			return c.Status(fiber.StatusBadRequest).JSON(fiber.Map{"error": `body must be {"conversation_id": str, "queue"?: str, "reason"?: str}`})
		}
		if body.Reason == "" {
			body.Reason = ReasonOperator
		}
		err := s.RequestByID(c.UserContext(), body.ConversationID, body.Queue, body.Reason)
		switch {
		case errors.Is(err, ErrUnknownQueue), errors.Is(err, ErrUnknownConversation):
			return c.Status(fiber.StatusNotFound).JSON(fiber.Map{"error": err.Error()})
		case err != nil:
			s.logErr("operator handoff request failed", err, zapConv(body.ConversationID))
			return c.Status(fiber.StatusInternalServerError).JSON(fiber.Map{"error": "handoff failed; see the logs"})
		}
		d, err := s.Detail(c.UserContext(), body.ConversationID)
		if err != nil || d == nil {
			return c.Status(fiber.StatusAccepted).JSON(fiber.Map{"ok": true})
		}
		return c.Status(fiber.StatusAccepted).JSON(d)
	})
}

func reply(c *fiber.Ctx, v any, err error) error {
	if err != nil {
		return c.Status(fiber.StatusInternalServerError).JSON(fiber.Map{"error": "reading handoff state failed"})
	}
	return c.JSON(v)
}

// QueueState is a queue as operators see it.
type QueueState struct {
	ID     string   `json:"id"`
	Name   string   `json:"name"`
	Skills []string `json:"skills"`
	// Open is whether the queue is inside its business hours now;
	// OpensAt when it next opens (when closed).
	Open    bool      `json:"open"`
	OpensAt time.Time `json:"opens_at,omitzero"`
	Waiting int       `json:"waiting"`
	// LongestWaitSeconds is how long the first customer in line has waited.
	LongestWaitSeconds float64 `json:"longest_wait_seconds"`
	// Agents is how many agents serve the queue; AgentsOnline how many are online.
	Agents       int `json:"agents"`
	AgentsOnline int `json:"agents_online"`
}

// Queues returns every queue's state.
func (s *Service) Queues(ctx context.Context) ([]QueueState, error) {
	agents, err := s.Agents(ctx)
	if err != nil {
		return nil, err
	}
	online := map[string]bool{}
	for _, a := range agents {
		online[a.ID] = a.Online
	}
	now := s.clock.Now()
	out := make([]QueueState, 0, len(s.queueOrder))
	for _, q := range s.queueOrder {
		st := QueueState{ID: q.ID, Name: q.Name, Skills: q.Skills, Agents: len(s.queueAgents[q.ID])}
		if st.Skills == nil {
			st.Skills = []string{}
		}
		h := s.hours(q)
		st.Open = h.Open(now)
		if !st.Open {
			st.OpensAt, _ = h.NextOpen(now)
		}
		for _, a := range s.queueAgents[q.ID] {
			if online[a.ID] {
				st.AgentsOnline++
			}
		}
		pipe := s.rdb.Pipeline()
		n := pipe.ZCard(ctx, s.keys.queue(q.ID))
		head := pipe.ZRangeWithScores(ctx, s.keys.queue(q.ID), 0, 0)
		if _, err := pipe.Exec(ctx); err != nil {
			return nil, fmt.Errorf("reading queue %s: %w", q.ID, err)
		}
		st.Waiting = int(n.Val())
		if hs := head.Val(); len(hs) > 0 {
			st.LongestWaitSeconds = now.Sub(time.UnixMilli(int64(hs[0].Score))).Seconds()
		}
		out = append(out, st)
	}
	return out, nil
}

// Waiting is a conversation waiting in a queue.
type Waiting struct {
	Conversation   string    `json:"conversation"`
	Queue          string    `json:"queue"`
	Position       int       `json:"position"`
	WaitingSeconds float64   `json:"waiting_seconds"`
	Requested      time.Time `json:"requested"`
	Channel        string    `json:"channel"`
	Account        string    `json:"account"`
	CustomerID     string    `json:"customer_id"`
	CustomerName   string    `json:"customer_name,omitempty"`
	Reason         string    `json:"reason,omitempty"`
}

// Waiting lists waiting conversations of one queue ("" = every queue),
// each queue in line order.
func (s *Service) Waiting(ctx context.Context, queue string) ([]Waiting, error) {
	now := s.clock.Now()
	out := []Waiting{}
	for _, q := range s.queueOrder {
		if queue != "" && q.ID != queue {
			continue
		}
		zs, err := s.rdb.ZRangeWithScores(ctx, s.keys.queue(q.ID), 0, 999).Result()
		if err != nil {
			return nil, fmt.Errorf("reading queue %s: %w", q.ID, err)
		}
		pipe := s.rdb.Pipeline()
		recs := make([]*redis.MapStringStringCmd, len(zs))
		for i, z := range zs {
			recs[i] = pipe.HGetAll(ctx, s.keys.record(z.Member.(string)))
		}
		if len(zs) > 0 {
			if _, err := pipe.Exec(ctx); err != nil {
				return nil, fmt.Errorf("reading queue records: %w", err)
			}
		}
		for i, z := range zs {
			conv := z.Member.(string)
			req := time.UnixMilli(int64(z.Score))
			w := Waiting{Conversation: conv, Queue: q.ID, Position: i + 1, Requested: req, WaitingSeconds: now.Sub(req).Seconds()}
			if r := parseRecord(conv, recs[i].Val()); r != nil {
				w.Channel, w.Account, w.CustomerID, w.CustomerName, w.Reason = r.Channel, r.Account, r.Customer.ID, r.Customer.Name, r.Reason
			}
			out = append(out, w)
		}
	}
	return out, nil
}

// Detail is a conversation's handoff as operators see it.
type Detail struct {
	Record
	Notes   []json.RawMessage `json:"notes"`
	Ratings []json.RawMessage `json:"ratings"`
	// Position is the place in the queue while queued.
	Position int `json:"position,omitempty"`
}

// Detail returns a conversation's handoff record, or nil when it has none.
func (s *Service) Detail(ctx context.Context, conv string) (*Detail, error) {
	r, err := s.readRecord(ctx, conv)
	if err != nil || r == nil {
		return nil, err
	}
	d := &Detail{Record: *r, Notes: []json.RawMessage{}}
	notes, err := s.rdb.LRange(ctx, s.keys.notes(conv), 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("reading notes: %w", err)
	}
	for _, n := range notes {
		d.Notes = append(d.Notes, json.RawMessage(n))
	}
	if d.Ratings, err = s.ConversationRatings(ctx, conv); err != nil {
		return nil, err
	}
	if r.Status == StatusQueued {
		if pos, err := s.rdb.ZRank(ctx, s.keys.queue(r.Queue), conv).Result(); err == nil {
			d.Position = int(pos) + 1
		}
	}
	return d, nil
}

// LeftMessage is a message a customer left for the agents.
type LeftMessage struct {
	ID           string    `json:"id"`
	Conversation string    `json:"conversation"`
	Queue        string    `json:"queue"`
	Channel      string    `json:"channel"`
	Account      string    `json:"account"`
	CustomerID   string    `json:"customer_id"`
	CustomerName string    `json:"customer_name,omitempty"`
	Text         string    `json:"text"`
	Why          string    `json:"why"`
	At           time.Time `json:"at"`
	// CalledBackBy is the agent who answered it with /callback (within
	// the last 7 days), if any.
	CalledBackBy string `json:"called_back_by,omitempty"`
}

// LeftMessages returns the newest n messages customers left.
func (s *Service) LeftMessages(ctx context.Context, n int) ([]LeftMessage, error) {
	xs, err := s.rdb.XRevRangeN(ctx, s.keys.messages(), "+", "-", int64(n)).Result()
	if err != nil {
		return nil, fmt.Errorf("reading left messages: %w", err)
	}
	out := make([]LeftMessage, 0, len(xs))
	for _, x := range xs {
		out = append(out, leftMessage(x.ID, x.Values))
	}
	return out, nil
}
