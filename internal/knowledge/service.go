package knowledge

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// Config is the `knowledge:` block of kefu.yaml.
type Config struct {
	// Dir holds the *.yaml FAQ files and *.md documents.
	Dir string `yaml:"dir" json:"dir"`
	// ReloadInterval is how often Run checks Dir for edits (default 2s;
	// negative turns hot reload off).
	ReloadInterval time.Duration `yaml:"reload_interval" json:"reload_interval"`
	// EmbedTimeout bounds embedding one customer question (default 2s);
	// past it the question is answered by lexical retrieval alone.
	EmbedTimeout time.Duration `yaml:"embed_timeout" json:"embed_timeout"`
	// TopK is how many hits the policy and Grounding consider (default 8).
	TopK int `yaml:"top_k" json:"top_k"`

	Policy PolicyConfig `yaml:"policy" json:"policy"`
	Misses MissConfig   `yaml:"misses" json:"misses"`
	Hybrid HybridConfig `yaml:"hybrid" json:"hybrid"`
	// Gaps configures the unanswered-question record (NewGaps).
	Gaps GapConfig `yaml:"gaps" json:"gaps"`
}

// Defaults of Config.
const (
	DefaultDir            = "configs/knowledge"
	DefaultReloadInterval = 2 * time.Second
	DefaultEmbedTimeout   = 2 * time.Second
	DefaultTopK           = 8
)

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	if c.Dir == "" {
		c.Dir = DefaultDir
	}
	if c.ReloadInterval == 0 {
		c.ReloadInterval = DefaultReloadInterval
	}
	if c.EmbedTimeout == 0 {
		c.EmbedTimeout = DefaultEmbedTimeout
	}
	if c.TopK == 0 {
		c.TopK = DefaultTopK
	}
	c.Policy = c.Policy.withDefaults()
	c.Misses = c.Misses.withDefaults()
	c.Hybrid = c.Hybrid.withDefaults()
	c.Gaps = c.Gaps.withDefaults()
	return c
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	if c.EmbedTimeout < 0 {
		return fmt.Errorf("knowledge: embed_timeout must not be negative")
	}
	if c.TopK < 0 {
		return fmt.Errorf("knowledge: top_k must not be negative")
	}
	return errors.Join(c.Policy.Validate(), c.Misses.Validate(), c.Hybrid.Validate())
}

// Options are the Service's optional collaborators.
type Options struct {
	// Embedder turns on hybrid retrieval (nil: lexical only).
	Embedder Embedder
	// VectorCache keeps embeddings across reloads and processes.
	VectorCache VectorCache
	Logger      *zap.Logger
}

var _ Asker = (*Service)(nil)

// Service is the knowledge base the router asks: the current Base (swapped
// atomically on reload), the answer policy and the miss policy. It is safe
// for concurrent use.
type Service struct {
	cfg      Config
	policy   *Policy
	misses   *MissPolicy
	embedder Embedder
	cache    VectorCache
	log      *zap.Logger

	base atomic.Pointer[Base]

	mu      sync.Mutex // serializes reloads
	print   string     // fingerprint of the files the current base came from
	lastErr error
}

// New validates cfg and loads the knowledge base in cfg.Dir. Problems in the
// files are returned as a Problems error ("file:line: message" lines).
func New(ctx context.Context, cfg Config, opts Options) (*Service, error) {
	s, err := newService(cfg, opts)
	if err != nil {
		return nil, err
	}
	if err := s.Reload(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// NewFromBase wraps an already built base (tests, tools); it never reloads.
func NewFromBase(base *Base, cfg Config, opts Options) (*Service, error) {
	cfg.ReloadInterval = -1
	s, err := newService(cfg, opts)
	if err != nil {
		return nil, err
	}
	s.base.Store(base)
	return s, nil
}

func newService(cfg Config, opts Options) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.WithDefaults()
	pol, err := NewPolicy(cfg.Policy)
	if err != nil {
		return nil, err
	}
	mp, err := NewMissPolicy(cfg.Misses)
	if err != nil {
		return nil, err
	}
	s := &Service{cfg: cfg, policy: pol, misses: mp, embedder: opts.Embedder, cache: opts.VectorCache, log: opts.Logger}
	if s.log == nil {
		s.log = zap.NewNop()
	}
	return s, nil
}

// Base returns the knowledge base in use.
func (s *Service) Base() *Base { return s.base.Load() }

// Policy returns the answer policy.
func (s *Service) Policy() *Policy { return s.policy }

// Misses returns the miss policy.
func (s *Service) Misses() *MissPolicy { return s.misses }

// Search returns up to the configured TopK FAQ hits for text, best first,
// blending vector similarity in when the base has embeddings and the
// question can be embedded within EmbedTimeout.
func (s *Service) Search(ctx context.Context, text string) []Hit {
	b := s.base.Load()
	parts := normalizedParts(text)
	hybrid := s.embedder != nil && b.vectors != nil && s.cfg.Hybrid.VectorWeight > 0 && len(parts) > 0
	// Without vectors the policy needs TopK hits; with them, a wider lexical
	// list so that FAQs the vectors favour keep their lexical score.
	limit := s.cfg.TopK
	if hybrid {
		limit = max(limit, hybridLexicalHits)
	}
	hits := b.lexicalHits(parts, DefaultBeta, limit)
	if hybrid {
		ectx, cancel := context.WithTimeout(ctx, s.cfg.EmbedTimeout)
		// Questions are not cached: every distinct customer text would leave
		// a vector in Redis for the cache's whole TTL.
		vecs, err := embedTexts(ectx, s.embedder, nil, []string{text})
		cancel()
		if err != nil {
			s.log.Debug("knowledge query embedding failed, answering lexically", zap.Error(err))
		} else {
			hits = b.hybridHits(hits, vecs[0], s.cfg.Hybrid)
		}
	}
	if len(hits) > s.cfg.TopK {
		hits = hits[:s.cfg.TopK]
	}
	return hits
}

// Ask retrieves and decides: answer, clarify, or unknown.
func (s *Service) Ask(ctx context.Context, text string) Decision {
	return s.policy.Decide(text, s.Search(ctx, text))
}

// Resolve interprets the customer's reply to an open clarifying question.
// ok is false when the reply does not pick a choice: treat it as a new
// question (Ask) and drop the pending state. A pick returns an
// OutcomeAnswer decision; "none of these" an OutcomeUnknown one with
// Declined set.
func (s *Service) Resolve(_ context.Context, pending *Pending, reply string) (Decision, bool) {
	b := s.base.Load()
	id, declined, ok := s.policy.resolveChoice(b, pending, reply)
	if !ok {
		return Decision{}, false
	}
	if declined {
		return Decision{Outcome: OutcomeUnknown, Text: s.policy.cfg.UnknownText, Declined: true}, true
	}
	f := b.FAQ(id)
	if f == nil { // removed by a reload since the question was asked
		return Decision{}, false
	}
	return Decision{Outcome: OutcomeAnswer, Text: f.Answer, FAQ: f}, true
}

// hybridLexicalHits is how many lexical hits are blended with vector scores.
const hybridLexicalHits = 64

// groundingFAQs is how many FAQ entries Grounding includes at most.
const groundingFAQs = 2

// Grounding returns up to n passages to ground an LLM answer to text: the
// best matching FAQ entries (question as title, answer as text, ID
// "faq:<id>") and the most relevant document passages. Pass the Hits of the
// Decision Ask returned for text to save a second retrieval (and a second
// embeddings call); nil searches again.
func (s *Service) Grounding(ctx context.Context, text string, hits []Hit, n int) []Passage {
	if n <= 0 {
		return nil
	}
	b := s.base.Load()
	if hits == nil {
		hits = s.Search(ctx, text)
	}
	var out []Passage
	for _, h := range hits {
		if len(out) == groundingFAQs || len(out) == n || h.Score < s.policy.cfg.ClarifyThreshold/2 {
			break
		}
		out = append(out, Passage{ID: "faq:" + h.FAQ.ID, Title: h.FAQ.Question, Text: h.FAQ.Answer, File: h.FAQ.File, Line: h.FAQ.Line})
	}
	for _, ph := range b.SearchPassages(text, n-len(out)) {
		out = append(out, *ph.Passage)
	}
	return out
}

// LastError is the problem that kept the latest reload from applying, nil
// when the files in use are the latest.
func (s *Service) LastError() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastErr
}

// Reload loads the files in Dir again. An invalid edit keeps the current base
// and returns (and logs) the problems; Run retries at the next change.
func (s *Service) Reload(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reloadLocked(ctx)
}

func (s *Service) reloadLocked(ctx context.Context) error {
	fp, err := fingerprint(s.cfg.Dir)
	if err != nil {
		s.lastErr = err
		return err
	}
	b, err := LoadDir(s.cfg.Dir)
	s.print = fp
	if err != nil {
		s.lastErr = err
		var probs Problems
		if errors.As(err, &probs) {
			for _, p := range probs {
				s.log.Error("knowledge file problem; keeping the previous knowledge base",
					zap.String("file", p.File), zap.Int("line", p.Line), zap.String("problem", p.Msg))
			}
		} else {
			s.log.Error("loading knowledge base; keeping the previous one", zap.Error(err))
		}
		return err
	}
	s.attachVectors(ctx, b)
	s.base.Store(b)
	s.lastErr = nil
	s.log.Info("knowledge base loaded", zap.String("dir", s.cfg.Dir),
		zap.Int("faqs", len(b.FAQs)), zap.Int("passages", len(b.Passages)), zap.Bool("vectors", b.vectors != nil))
	return nil
}

// attachVectors embeds b's FAQ variants when an embedder is configured. A
// failure leaves b lexical-only; Run tries again later.
func (s *Service) attachVectors(ctx context.Context, b *Base) {
	if s.embedder == nil || b.faqIndex == nil || len(b.faqIndex.docs) == 0 {
		return
	}
	texts := make([]string, len(b.faqIndex.docs))
	for i, d := range b.faqIndex.docs {
		texts[i] = d.text
	}
	vecs, err := embedTexts(ctx, s.embedder, s.cache, texts)
	if err != nil {
		s.log.Warn("embedding knowledge base failed; answering lexically until it succeeds", zap.Error(err))
		return
	}
	b.vectors = &vectorSet{model: s.embedder.EmbeddingModel(), docs: vecs}
}

// Run applies edits of the knowledge files until ctx ends, checking every
// ReloadInterval. It returns nil when ctx ends; with hot reload off it
// returns at once.
func (s *Service) Run(ctx context.Context) error {
	if s.cfg.ReloadInterval < 0 {
		return nil
	}
	t := time.NewTicker(s.cfg.ReloadInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			s.poll(ctx)
		}
	}
}

// poll reloads when the files changed, and retries embedding a base that
// has none.
func (s *Service) poll(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fp, err := fingerprint(s.cfg.Dir)
	if err != nil {
		s.log.Warn("checking knowledge files", zap.Error(err))
		return
	}
	if fp != s.print {
		_ = s.reloadLocked(ctx) // logged inside
		return
	}
	if b := s.base.Load(); s.embedder != nil && b.vectors == nil && len(b.FAQs) > 0 {
		nb := NewBase(b.FAQs, b.Passages)
		s.attachVectors(ctx, nb)
		if nb.vectors != nil {
			s.base.Store(nb)
		}
	}
}
