package router

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kefu-gateway/kefu/adapters"
	"github.com/kefu-gateway/kefu/adapters/message"
	"github.com/kefu-gateway/kefu/flows"
	"github.com/kefu-gateway/kefu/internal/knowledge"
	"github.com/kefu-gateway/kefu/internal/llm"
	"github.com/kefu-gateway/kefu/internal/pubsub"
	"go.uber.org/zap"
)

// extKnowledge is the Conversation.Ext key of a pending clarifying question.
const extKnowledge = "knowledge"

// fallback answers a text no flow handled, in order of confidence and cost:
// a pending clarifying question, a confident knowledge-base answer
// (verbatim), flows triggered by intent, a clarifying question when two or
// three entries are close, a grounded LLM answer, and finally an honest
// "I didn't catch that" offering a human. It never guesses an unrelated
// answer.
func (r *Router) fallback(ctx context.Context, conv *Conversation, msg message.Message, caps adapters.Capabilities, in flows.Input) ([]message.Message, []effect) {
	text := msg.Text
	kb := r.kb
	if kb != nil {
		if p := conv.pendingClarification(); p != nil {
			conv.setPendingClarification(nil)
			if d, ok := kb.Resolve(ctx, p, text); ok {
				if d.Declined {
					return r.miss(conv, msg, p.Query, d.Text, "declined")
				}
				if d.Outcome == knowledge.OutcomeAnswer {
					r.fallbacks.WithLabelValues("knowledge_clarified").Inc()
					conv.Misses = 0
					return []message.Message{r.reply(msg, d.Text, nil)}, nil
				}
			}
		}
	}
	var d knowledge.Decision
	if kb != nil {
		d = kb.Ask(ctx, text)
		if d.Outcome == knowledge.OutcomeAnswer {
			r.fallbacks.WithLabelValues("knowledge").Inc()
			conv.Misses = 0
			return []message.Message{r.reply(msg, d.Text, nil)}, nil
		}
	}
	// A confident intent beats a clarifying question: a flow that does
	// what the customer asks is better than asking which FAQ they meant.
	if intent := r.classifyIntent(ctx, text); intent != "" {
		in.Intent = intent
		if res := r.runFlow(ctx, conv, in, caps); res.Handled {
			r.fallbacks.WithLabelValues("intent").Inc()
			conv.Misses = 0
			return r.perform(msg, res.Actions)
		}
	}
	if d.Outcome == knowledge.OutcomeClarify {
		r.fallbacks.WithLabelValues("knowledge_clarify").Inc()
		conv.setPendingClarification(d.Pending)
		return []message.Message{r.reply(msg, d.Text, d.Choices)}, nil
	}
	hits := d.Hits
	if r.llm != nil && r.llm.Enabled() {
		reply, ok := r.askLLM(ctx, conv, msg, caps, hits)
		if ok {
			r.fallbacks.WithLabelValues("llm").Inc()
			conv.Misses = 0
			return []message.Message{reply}, nil
		}
	}
	unknown := ""
	if kb == nil {
		unknown = r.cfg.FallbackText
	}
	return r.miss(conv, msg, text, unknown, "unknown")
}

// miss counts a turn nothing could answer: the reply says so and offers a
// human (after repeated misses more plainly, or by starting a handoff when
// configured); the question is recorded for the knowledge-base maintainers.
func (r *Router) miss(conv *Conversation, msg message.Message, query, unknownText, why string) ([]message.Message, []effect) {
	r.fallbacks.WithLabelValues("miss_" + why).Inc()
	conv.Misses++
	effects := []effect{{gap: query}}
	if r.kb == nil {
		return []message.Message{r.reply(msg, r.cfg.FallbackText, nil)}, effects
	}
	act := r.kb.Misses().Next(conv.Misses)
	text := act.Text
	if text == "" {
		text = unknownText
	}
	if text == "" {
		text = r.kb.Policy().Config().UnknownText
	}
	if act.StartHandoff {
		r.fallbacks.WithLabelValues("handoff_after_miss").Inc()
		effects = append(effects, effect{action: flows.Action{Kind: flows.ActionHandoff, Reason: "repeated unanswered questions"}})
	}
	return []message.Message{r.reply(msg, text, act.Choices)}, effects
}

// askLLM asks the LLM for an answer grounded in the knowledge base and the
// conversation's recent turns. On web-like channels it streams the answer
// as it is generated. ok is false when the LLM failed or declined.
func (r *Router) askLLM(ctx context.Context, conv *Conversation, msg message.Message, caps adapters.Capabilities, hits []knowledge.Hit) (message.Message, bool) {
	var passages []llm.Passage
	if r.kb != nil {
		for _, p := range r.kb.Grounding(ctx, msg.Text, hits, 4) {
			passages = append(passages, llm.Passage{ID: p.ID, Title: p.Title, Text: p.Text})
		}
	}
	req := llm.GroundedRequest{Question: msg.Text, Passages: passages, History: r.recentTurns(ctx, conv.ID)}
	reply := r.reply(msg, "", nil)
	var ans llm.Answer
	var err error
	if caps.Streaming {
		streamID := "s" + strconv.FormatInt(time.Now().UnixNano(), 36)
		st := &streamer{r: r, conv: conv.ID, id: streamID, name: r.cfg.BotName}
		ans, err = r.llm.AnswerStream(ctx, req, st.write)
		st.flush(ctx)
		reply.Meta = withMeta(reply.Meta, "stream_id", streamID)
	} else {
		ans, err = r.llm.Answer(ctx, req)
	}
	if err != nil {
		level := zap.WarnLevel
		if errors.Is(err, llm.ErrCircuitOpen) {
			level = zap.DebugLevel
		}
		r.log.Check(level, "llm answer failed; falling back").Write(zap.String("conversation", conv.ID), zap.Error(err))
		return message.Message{}, false
	}
	if ans.NoAnswer {
		return message.Message{}, false
	}
	conv.LLMTokens += ans.Usage.PromptTokens + ans.Usage.CompletionTokens
	text := ans.Text
	if !caps.Markdown {
		text = llm.StripMarkdown(text)
	} else {
		reply.Markdown = true
	}
	reply.Text = text
	return reply, true
}

func withMeta(m map[string]string, k, v string) map[string]string {
	out := make(map[string]string, len(m)+1)
	for mk, mv := range m {
		out[mk] = mv
	}
	out[k] = v
	return out
}

// recentTurns reads the conversation's last turns for the LLM prompt.
func (r *Router) recentTurns(ctx context.Context, conv string) []llm.Turn {
	n := 6
	if r.llm != nil && r.llm.Config().MaxHistoryTurns > 0 {
		n = r.llm.Config().MaxHistoryTurns
	}
	ms, err := NewTranscriptReader(r.rdb, r.keys).After(ctx, conv, "", n)
	if err != nil {
		return nil
	}
	turns := make([]llm.Turn, 0, len(ms))
	for _, m := range ms {
		if m.Text == "" || m.Kind == message.KindEvent {
			continue
		}
		role := string(m.From.Role)
		if role == "" {
			role = string(message.RoleCustomer)
		}
		turns = append(turns, llm.Turn{Role: role, Text: m.Text})
	}
	return turns
}

// streamer publishes an answer's pieces to the conversation's pub/sub
// channel, coalesced so a token-by-token model costs a few Redis commands
// per second rather than one per token.
type streamer struct {
	r       *Router
	conv    string
	id      string
	name    string
	mu      sync.Mutex
	pending strings.Builder
	last    time.Time
}

const streamEvery = 60 * time.Millisecond

func (s *streamer) write(delta string) error {
	s.mu.Lock()
	s.pending.WriteString(delta)
	due := time.Since(s.last) >= streamEvery
	s.mu.Unlock()
	if due {
		s.flush(context.Background())
	}
	return nil
}

func (s *streamer) flush(ctx context.Context) {
	s.mu.Lock()
	if s.pending.Len() == 0 {
		s.mu.Unlock()
		return
	}
	delta := s.pending.String()
	s.pending.Reset()
	s.last = time.Now()
	s.mu.Unlock()
	b, _ := json.Marshal(map[string]string{"stream_id": s.id, "delta": delta, "name": s.name})
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	if err := s.r.rdb.Publish(ctx, s.r.keys.ConversationChannel(s.conv), string([]byte{pubsub.KindStream})+string(b)).Err(); err != nil {
		s.r.log.Debug("publishing a stream piece failed", zap.Error(err))
	}
}

// pendingClarification is the clarifying question the knowledge base asked
// last turn, if any.
func (c *Conversation) pendingClarification() *knowledge.Pending {
	raw, ok := c.Ext[extKnowledge]
	if !ok {
		return nil
	}
	var p knowledge.Pending
	if json.Unmarshal(raw, &p) != nil || len(p.FAQIDs) == 0 {
		return nil
	}
	return &p
}

func (c *Conversation) setPendingClarification(p *knowledge.Pending) {
	if p == nil {
		delete(c.Ext, extKnowledge)
		return
	}
	b, err := json.Marshal(p)
	if err != nil {
		return
	}
	if c.Ext == nil {
		c.Ext = map[string]json.RawMessage{}
	}
	c.Ext[extKnowledge] = b
}

// intentClassifier is built lazily for the running flow set and rebuilt
// when a reload changes it.
type intentClassifier struct {
	mu  sync.Mutex
	set *flows.Set
	ic  *llm.IntentClassifier
}

// classifyIntent resolves the text to one of the flows' intent triggers,
// or "" (no LLM, no intents, below the threshold, or an error).
func (r *Router) classifyIntent(ctx context.Context, text string) string {
	if r.llm == nil || !r.llm.Enabled() {
		return ""
	}
	set := r.engine.Set()
	r.intents.mu.Lock()
	if r.intents.set != set {
		r.intents.set, r.intents.ic = set, nil
		var intents []llm.Intent
		for _, in := range set.Intents() {
			intents = append(intents, llm.Intent{ID: in.Name, Description: in.Description, Examples: in.Examples})
		}
		if len(intents) > 0 {
			ic, err := r.llm.NewIntentClassifier(intents, r.llm.Config().Intents)
			if err != nil {
				r.log.Warn("building the intent classifier failed", zap.Error(err))
			}
			r.intents.ic = ic
		}
	}
	ic := r.intents.ic
	r.intents.mu.Unlock()
	if ic == nil {
		return ""
	}
	m, err := ic.Classify(ctx, text)
	if err != nil {
		r.log.Debug("intent classification failed", zap.Error(err))
		return ""
	}
	return m.ID
}
