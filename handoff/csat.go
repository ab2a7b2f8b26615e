package handoff

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/kefu-gateway/kefu/adapters"
	"github.com/kefu-gateway/kefu/adapters/message"
	"github.com/kefu-gateway/kefu/router"
	"go.uber.org/zap"
)

// resolvedWithRating tells the customer the agent ended the service and,
// when CSAT is on and the channel still lets kefu write to the customer,
// asks for a 1–5 rating. The customer is already back with the bot: a
// rating is optional, and anything else they write goes to the bot.
func (s *Service) resolvedWithRating(ctx context.Context, r *Record) error {
	window, ask := s.ratingWindow(ctx, r)
	if ask && s.cfg.CSAT.Flow != "" {
		return s.resolvedIntoSurvey(ctx, r)
	}
	texts := []string{s.cfg.Texts.Resolved}
	if ask {
		texts = append(texts, s.cfg.Texts.CSATQuestion)
	}
	msgs, err := s.deliver(ctx, r, message.Party{Role: message.RoleSystem}, texts...)
	if err != nil || !ask || len(msgs) < 2 {
		return err
	}
	key := s.keys.csatAsk(r.Conversation)
	pipe := s.rdb.TxPipeline()
	pipe.HSet(ctx, key, "hid", r.ID, "agent", r.Agent, "entry", msgs[1].ID, "asked", ms(s.clock.Now()))
	pipe.PExpire(ctx, key, window)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("recording the rating question: %w", err)
	}
	return nil
}

// resolvedIntoSurvey tells the customer the agent ended the service and
// starts the configured survey flow (csat.flow), whose questions and
// answers are the team's own.
func (s *Service) resolvedIntoSurvey(ctx context.Context, r *Record) error {
	if err := s.tell(ctx, r, s.cfg.Texts.Resolved); err != nil {
		return err
	}
	conv := router.Conversation{ID: r.Conversation, Channel: r.Channel, Account: r.Account, Customer: r.Customer}
	if err := s.flows.StartFlow(ctx, conv, s.cfg.CSAT.Flow); err != nil {
		return fmt.Errorf("starting the survey flow %q: %w", s.cfg.CSAT.Flow, err)
	}
	return nil
}

// ratingWindow says whether to ask for a rating and for how long to accept
// one: csat.window, cut short where the channel's window closes sooner
// (WeChat: 48 h after the customer's last message, PROTOCOLS.md §1.5), and
// not at all when the question would not get through.
func (s *Service) ratingWindow(ctx context.Context, r *Record) (time.Duration, bool) {
	if !s.cfg.CSAT.Enabled {
		return 0, false
	}
	window := s.cfg.CSAT.Window
	ad, ok := s.adapters.Lookup(r.Channel, r.Account)
	if !ok {
		return 0, false
	}
	wc, ok := ad.(adapters.WindowChecker)
	if !ok {
		return window, true
	}
	w, err := wc.Window(ctx, r.Customer)
	if err != nil {
		s.logErr("checking the customer's window failed; not asking for a rating", err, zapConv(r.Conversation))
		return 0, false
	}
	// At least two messages go out: the closing sentence and the question
	// (or a survey flow's first message; its later ones answer the
	// customer's replies, which renew the window).
	if !w.Open || (w.Remaining >= 0 && w.Remaining < 2) {
		return 0, false
	}
	if !w.Closes.IsZero() {
		if left := w.Closes.Sub(s.clock.Now()); left < window {
			window = left
		}
	}
	return window, window > 0
}

// rate records a customer's answer to the rating question. It takes the
// message only while a question is open and the customer has written
// nothing else since it was asked (so a "2" picking a bot menu item later
// is not a rating).
func (s *Service) rate(ctx context.Context, msg message.Message, score int) (bool, error) {
	conv := msg.ConversationID
	ask, err := s.rdb.HGetAll(ctx, s.keys.csatAsk(conv)).Result()
	if err != nil {
		return false, fmt.Errorf("reading the rating question: %w", err)
	}
	if ask["hid"] == "" {
		return false, nil
	}
	since, err := s.tx.After(ctx, conv, ask["entry"], 20)
	if err != nil {
		return false, err
	}
	for _, m := range since {
		if m.IsCustomer() {
			// The customer moved on: the question is void.
			return false, s.rdb.Del(ctx, s.keys.csatAsk(conv)).Err()
		}
	}
	now := s.clock.Now()
	entry, _ := json.Marshal(map[string]any{"handoff": ask["hid"], "agent": ask["agent"], "score": score, "ts": ms(now)})
	res, err := rateScript.Run(ctx, s.rdb,
		[]string{s.keys.csatAsk(conv), s.keys.csatConv(conv), s.keys.csatAgents(), s.keys.csatLog()},
		ask["hid"], score, entry, conv).Result()
	if err != nil && !isNil(err) {
		return false, fmt.Errorf("recording a rating: %w", err)
	}
	if res == nil {
		return false, nil // answered twice at once: the first one counted
	}
	s.m.ratings.WithLabelValues(strconv.Itoa(score)).Inc()
	s.log.Info("customer rated the service", zapConv(conv), zap.String("agent", ask["agent"]), zap.Int("score", score))
	r := &Record{Conversation: conv, Channel: msg.Channel, Account: msg.Account, Customer: msg.From}
	return true, s.tell(ctx, r, fill(s.cfg.Texts.CSATThanks, vars{Score: score}))
}

// parseRating reads "5", "５", "5分", "五星", "4 星" as a score 1–5.
func parseRating(text string) (int, bool) {
	t := strings.TrimSpace(text)
	t = strings.TrimRight(t, "。.!！ ")
	for _, suf := range []string{"分", "星"} {
		t = strings.TrimSpace(strings.TrimSuffix(t, suf))
	}
	hanzi := strings.HasSuffix(strings.TrimSpace(text), "分") || strings.HasSuffix(strings.TrimSpace(text), "星")
	switch t {
	case "1", "１":
		return 1, true
	case "2", "２":
		return 2, true
	case "3", "３":
		return 3, true
	case "4", "４":
		return 4, true
	case "5", "５":
		return 5, true
	}
	if hanzi {
		if n := strings.Index("一二三四五", t); n >= 0 && len(t) == 3 {
			return n/3 + 1, true
		}
	}
	return 0, false
}

// AgentRating is an agent's CSAT tally.
type AgentRating struct {
	Agent   string  `json:"agent"`
	Count   int     `json:"count"`
	Average float64 `json:"average"`
	// Scores counts ratings by score: Scores[0] is the number of 1s.
	Scores [5]int `json:"scores"`
}

// Ratings returns every configured agent's CSAT tally.
func (s *Service) Ratings(ctx context.Context) ([]AgentRating, error) {
	h, err := s.rdb.HGetAll(ctx, s.keys.csatAgents()).Result()
	if err != nil {
		return nil, fmt.Errorf("reading ratings: %w", err)
	}
	out := make([]AgentRating, 0, len(s.agentOrder))
	for _, a := range s.agentOrder {
		r := AgentRating{Agent: a.ID, Count: atoi(h[a.ID+":n"])}
		for i := range r.Scores {
			r.Scores[i] = atoi(h[a.ID+":s"+strconv.Itoa(i+1)])
		}
		if r.Count > 0 {
			r.Average = float64(atoi(h[a.ID+":sum"])) / float64(r.Count)
		}
		out = append(out, r)
	}
	return out, nil
}

// ConversationRatings returns the ratings given in one conversation, oldest first.
func (s *Service) ConversationRatings(ctx context.Context, conv string) ([]json.RawMessage, error) {
	raw, err := s.rdb.LRange(ctx, s.keys.csatConv(conv), 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("reading ratings: %w", err)
	}
	out := make([]json.RawMessage, len(raw))
	for i, x := range raw {
		out[i] = json.RawMessage(x)
	}
	return out, nil
}
