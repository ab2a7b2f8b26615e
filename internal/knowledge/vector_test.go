package knowledge

import (
	"context"
	"errors"
	"hash/fnv"
	"strings"
	"sync"
	"testing"
)

// conceptEmbedder is a deterministic stand-in for an embeddings model: texts
// mentioning words of the same concept get similar vectors, whatever the
// characters; the rest of the vector hashes character bigrams.
type conceptEmbedder struct {
	mu       sync.Mutex
	calls    int
	texts    int
	fail     bool
	concepts [][]string
}

func (e *conceptEmbedder) EmbeddingModel() string { return "concept-test" }

func (e *conceptEmbedder) Embed(_ context.Context, texts []string) ([][]float32, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.fail {
		return nil, errors.New("embeddings endpoint down")
	}
	e.calls++
	e.texts += len(texts)
	out := make([][]float32, len(texts))
	for i, t := range texts {
		v := make([]float32, 64)
		for c, words := range e.concepts {
			for _, w := range words {
				if strings.Contains(t, w) {
					v[c] += 4
				}
			}
		}
		rs := []rune(t)
		for j := 0; j+1 < len(rs); j++ {
			h := fnv.New32a()
			h.Write([]byte(string(rs[j : j+2])))
			v[16+h.Sum32()%48] += 0.3
		}
		out[i] = v
	}
	return out, nil
}

func newConceptEmbedder() *conceptEmbedder {
	return &conceptEmbedder{concepts: [][]string{{"退款", "退钱", "钱退", "钱还"}, {"发票", "开票", "专票"}, {"退货", "不要了"}}}
}

func TestHybridRetrievalWithRedisCache(t *testing.T) {
	client, prefix := testRedis(t)
	ctx := context.Background()
	cache := &RedisVectorCache{Client: client, Prefix: prefix + "vec:"}
	emb := newConceptEmbedder()
	base := func() *Base { return NewBase(testFAQs(), nil) }

	svc, err := NewFromBase(base(), Config{}, Options{Embedder: emb, VectorCache: cache})
	if err != nil {
		t.Fatal(err)
	}
	svc.attachVectors(ctx, svc.Base())
	docs := len(svc.Base().faqIndex.docs)
	if svc.Base().vectors == nil || emb.texts != docs {
		t.Fatalf("embedded %d texts for %d documents", emb.texts, docs)
	}

	// "钱还没还给我" shares no useful bigram with the refund FAQ; the vector
	// finds it.
	lex := svc.Base().Search("钱还没还给我", 3)
	if len(lex) > 0 && lex[0].FAQ.ID == "refund" && lex[0].Score >= DefaultAnswerThreshold {
		t.Fatalf("test premise broken: lexical retrieval already answers: %+v", lex[0])
	}
	hits := svc.Search(ctx, "钱还没还给我")
	if len(hits) == 0 || hits[0].FAQ.ID != "refund" || hits[0].Vector <= 0 {
		t.Fatalf("hybrid hits %+v, want refund first with a vector score", hits)
	}

	// A second process (or a reload) embeds nothing: every variant is cached.
	emb2 := newConceptEmbedder()
	svc2, _ := NewFromBase(base(), Config{}, Options{Embedder: emb2, VectorCache: cache})
	svc2.attachVectors(ctx, svc2.Base())
	if svc2.Base().vectors == nil || emb2.texts != 0 {
		t.Fatalf("second load embedded %d texts, want 0 (all cached)", emb2.texts)
	}
	// Customer questions are embedded but never cached.
	svc2.Search(ctx, "钱还没还给我")
	if emb2.texts != 1 {
		t.Errorf("question embedded %d times", emb2.texts)
	}
	n, err := client.Keys(ctx, prefix+"vec:*").Result()
	if err != nil || len(n) != docs {
		t.Errorf("cache holds %d keys (%v), want one per FAQ text: %d", len(n), err, docs)
	}
}

func TestHybridDegradesToLexical(t *testing.T) {
	ctx := context.Background()
	emb := newConceptEmbedder()
	svc, _ := NewFromBase(NewBase(testFAQs(), nil), Config{}, Options{Embedder: emb})
	svc.attachVectors(ctx, svc.Base())
	emb.fail = true
	d := svc.Ask(ctx, "怎么开发票")
	if d.Outcome != OutcomeAnswer || d.FAQ.ID != "invoice" || d.Hits[0].Vector != 0 {
		t.Fatalf("with the endpoint down: %+v, want the lexical answer", d)
	}

	// A base whose embedding fails stays lexical and is retried by poll.
	dir := writeFiles(t, map[string]string{"faq.yaml": "faqs:\n  - id: a\n    question: 怎么开发票\n    answer: 这样开。\n"})
	svc2, err := New(ctx, Config{Dir: dir}, Options{Embedder: emb})
	if err != nil {
		t.Fatal(err)
	}
	if svc2.Base().vectors != nil {
		t.Fatal("vectors attached although the embedder failed")
	}
	emb.fail = false
	svc2.poll(ctx)
	if svc2.Base().vectors == nil {
		t.Fatal("poll did not retry embedding")
	}
}

func TestHybridConfigValidate(t *testing.T) {
	if err := (HybridConfig{Floor: 0.9, Ceil: 0.5}).Validate(); err == nil {
		t.Error("floor above ceil accepted")
	}
	if err := (HybridConfig{VectorWeight: 2}).Validate(); err == nil {
		t.Error("vector_weight 2 accepted")
	}
}
