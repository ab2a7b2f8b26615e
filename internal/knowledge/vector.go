package knowledge

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
)

// Embedder turns texts into vectors through an embeddings endpoint; the
// llm package's client implements it. Implementations return one vector per
// text, in order.
type Embedder interface {
	EmbeddingModel() string
	Embed(ctx context.Context, texts []string) ([][]float32, error)
}

// VectorCache stores embeddings by key so that a restart or a reload embeds
// only texts it has not seen. Get returns one entry per key, nil for a miss.
type VectorCache interface {
	GetVectors(ctx context.Context, keys []string) ([][]float32, error)
	SetVectors(ctx context.Context, keys []string, vectors [][]float32) error
}

// vectorKey is the cache key of text embedded by model: a content hash, so
// an edited FAQ gets a new vector and an unchanged one is never re-embedded.
func vectorKey(model, text string) string {
	sum := sha256.Sum256([]byte(model + "\x00" + text))
	return hex.EncodeToString(sum[:])
}

// vectorSet holds the embeddings of a base's FAQ index documents.
type vectorSet struct {
	model string
	docs  [][]float32 // parallel to faqIndex.docs
}

// embedBatch is how many texts go into one embeddings request.
const embedBatch = 64

// embedTexts returns vectors for texts, from cache when possible, embedding
// the rest in batches and caching them. A cache failure is not fatal: the
// texts are embedded instead (and the error is returned with the vectors
// only when embedding fails too).
func embedTexts(ctx context.Context, e Embedder, cache VectorCache, texts []string) ([][]float32, error) {
	model := e.EmbeddingModel()
	keys := make([]string, len(texts))
	for i, t := range texts {
		keys[i] = vectorKey(model, t)
	}
	out := make([][]float32, len(texts))
	if cache != nil {
		if got, err := cache.GetVectors(ctx, keys); err == nil && len(got) == len(keys) {
			copy(out, got)
		}
	}
	var missing []int
	for i, v := range out {
		if v == nil {
			missing = append(missing, i)
		}
	}
	for start := 0; start < len(missing); start += embedBatch {
		end := min(start+embedBatch, len(missing))
		batch := make([]string, 0, end-start)
		for _, i := range missing[start:end] {
			batch = append(batch, texts[i])
		}
		vecs, err := e.Embed(ctx, batch)
		if err != nil {
			return nil, fmt.Errorf("embedding knowledge texts: %w", err)
		}
		if len(vecs) != len(batch) {
			return nil, fmt.Errorf("embedding knowledge texts: got %d vectors for %d texts", len(vecs), len(batch))
		}
		newKeys := make([]string, len(batch))
		for j, i := range missing[start:end] {
			out[i] = normalizeVector(vecs[j])
			newKeys[j] = keys[i]
		}
		if cache != nil {
			// Best effort: a failed write only costs a re-embedding later.
			vs := make([][]float32, len(batch))
			for j, i := range missing[start:end] {
				vs[j] = out[i]
			}
			_ = cache.SetVectors(ctx, newKeys, vs)
		}
	}
	return out, nil
}

// normalizeVector scales v to unit length so that a dot product is the
// cosine similarity.
func normalizeVector(v []float32) []float32 {
	var n float64
	for _, x := range v {
		n += float64(x) * float64(x)
	}
	if n == 0 {
		return v
	}
	inv := float32(1 / math.Sqrt(n))
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = x * inv
	}
	return out
}

func dot(a, b []float32) float64 {
	if len(a) != len(b) {
		return 0
	}
	var s float32
	for i := range a {
		s += a[i] * b[i]
	}
	return float64(s)
}

// HybridConfig blends embedding similarity into the retrieval score when an
// embedder is configured. Cosine similarities depend on the embedding model,
// so Floor and Ceil map the model's range onto [0, 1]: recalibrate them and
// the policy thresholds with `kefu kb eval` when you change models.
type HybridConfig struct {
	// VectorWeight is the share of the vector score in the blended score
	// (default 0.5; 0 keeps retrieval lexical even with an embedder).
	VectorWeight float64 `yaml:"vector_weight" json:"vector_weight"`
	// Floor is the cosine at or below which texts count as unrelated
	// (default 0.45: with common embedding models unrelated Chinese
	// sentences about shopping still reach 0.3–0.45); Ceil the cosine of a
	// clear paraphrase (default 0.9).
	Floor float64 `yaml:"floor" json:"floor"`
	Ceil  float64 `yaml:"ceil" json:"ceil"`
}

func (c HybridConfig) withDefaults() HybridConfig {
	if c.VectorWeight == 0 {
		c.VectorWeight = 0.5
	}
	if c.Floor == 0 {
		c.Floor = 0.45
	}
	if c.Ceil == 0 {
		c.Ceil = 0.9
	}
	return c
}

// Validate reports impossible settings.
func (c HybridConfig) Validate() error {
	d := c.withDefaults()
	if d.VectorWeight < 0 || d.VectorWeight > 1 {
		return fmt.Errorf("knowledge hybrid: vector_weight must be between 0 and 1")
	}
	if d.Floor >= d.Ceil {
		return fmt.Errorf("knowledge hybrid: floor (%v) must be below ceil (%v)", d.Floor, d.Ceil)
	}
	return nil
}

// hybridHits blends lexical hits with vector similarity of the query vector
// qv to every embedded FAQ variant: each FAQ's vector score is its best
// variant's cosine mapped through Floor..Ceil, and its final score
// (1-w)·lexical + w·vector. FAQs found only by vectors are included.
func (b *Base) hybridHits(lex []Hit, qv []float32, cfg HybridConfig) []Hit {
	vs := b.vectors
	if vs == nil || qv == nil {
		return lex
	}
	bestCos := map[int32]float64{}
	bestText := map[int32]string{}
	for i, dv := range vs.docs {
		if dv == nil {
			continue
		}
		d := &b.faqIndex.docs[i]
		c := dot(qv, dv)
		if prev, ok := bestCos[d.owner]; !ok || c > prev {
			bestCos[d.owner] = c
			bestText[d.owner] = d.text
		}
	}
	byFAQ := map[string]Hit{}
	for _, h := range lex {
		byFAQ[h.FAQ.ID] = h
	}
	w := cfg.VectorWeight
	out := make([]Hit, 0, len(bestCos))
	for owner, c := range bestCos {
		f := b.FAQs[owner]
		h, ok := byFAQ[f.ID]
		if !ok {
			h = Hit{FAQ: f, Matched: bestText[owner]}
		}
		h.Vector = c
		vscore := math.Min(1, math.Max(0, (c-cfg.Floor)/(cfg.Ceil-cfg.Floor)))
		h.Score = (1-w)*h.Lexical + w*vscore
		delete(byFAQ, f.ID)
		if h.Score > 0 {
			out = append(out, h)
		}
	}
	for _, h := range byFAQ { // lexical hits without a vector
		h.Score = (1 - w) * h.Lexical
		out = append(out, h)
	}
	sortHits(out)
	return out
}
