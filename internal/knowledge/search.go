package knowledge

import (
	"sort"
	"sync"
)

// Hit is one FAQ a query may mean, with the retriever's confidence.
type Hit struct {
	FAQ *FAQ `json:"faq"`
	// Score is the confidence in [0, 1] the answer policy compares with its
	// thresholds: the lexical score, blended with vector similarity when the
	// base has embeddings.
	Score float64 `json:"score"`
	// Lexical is the term-overlap score alone; Vector the cosine similarity
	// of the embeddings (0 without embeddings).
	Lexical float64 `json:"lexical"`
	Vector  float64 `json:"vector,omitempty"`
	// Matched is the question or `similar` variant that matched best.
	Matched string `json:"matched"`
}

// PassageHit is one document passage relevant to a query.
type PassageHit struct {
	Passage *Passage `json:"passage"`
	Score   float64  `json:"score"`
}

// DefaultBeta weighs the FAQ wording being present in the customer's text
// (precision) against the customer's words being covered by the FAQ
// (recall); see coverage. Calibrated on the tuning half of the eval set.
const DefaultBeta = 0.6

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// lexicalHits scores the FAQs sharing terms with the normalized query and
// returns up to limit of them (all when limit <= 0), best first: one hit per
// FAQ, scored by its best variant.
func (b *Base) lexicalHits(parts []string, beta float64, limit int) []Hit {
	if b == nil || b.faqIndex == nil || len(b.faqIndex.docs) == 0 {
		return nil
	}
	ix := b.faqIndex
	q := ix.prepare(parts)
	if len(q.ids) == 0 {
		return nil
	}
	sc := scratchPool.Get().(*scratch)
	defer scratchPool.Put(sc)
	ix.match(q, sc)
	type scored struct {
		doc   uint32
		score float64
	}
	all := make([]scored, 0, len(sc.touched))
	for _, d := range sc.touched {
		if s := coverage(sc.acc[d], q.total, ix.docs[d].total, beta); s > 0 {
			all = append(all, scored{d, s})
		}
	}
	sc.reset()
	sort.Slice(all, func(i, j int) bool {
		if all[i].score != all[j].score {
			return all[i].score > all[j].score
		}
		return all[i].doc < all[j].doc
	})
	seen := map[int32]bool{}
	var hits []Hit
	for _, s := range all {
		d := &ix.docs[s.doc]
		if seen[d.owner] {
			continue
		}
		seen[d.owner] = true
		hits = append(hits, Hit{FAQ: b.FAQs[d.owner], Score: s.score, Lexical: s.score, Matched: d.text})
		if limit > 0 && len(hits) == limit {
			break
		}
	}
	return hits
}

// sortHits orders hits best first; ties go to the FAQ defined first, so the
// order never depends on map iteration.
func sortHits(hits []Hit) {
	sort.Slice(hits, func(i, j int) bool {
		if hits[i].Score != hits[j].Score {
			return hits[i].Score > hits[j].Score
		}
		return hits[i].FAQ.ID < hits[j].FAQ.ID
	})
}

// Search returns up to k FAQs the text may mean, best first, by lexical
// score alone. Service.Search adds vector similarity when configured.
func (b *Base) Search(text string, k int) []Hit {
	return b.lexicalHits(normalizedParts(text), DefaultBeta, k)
}

// SearchPassages returns up to k document passages relevant to text, best
// first, ranked by BM25.
func (b *Base) SearchPassages(text string, k int) []PassageHit {
	if b == nil || b.passageIndex == nil || len(b.passageIndex.docs) == 0 {
		return nil
	}
	ix := b.passageIndex
	q := ix.prepare(normalizedParts(text))
	if len(q.ids) == 0 {
		return nil
	}
	sc := scratchPool.Get().(*scratch)
	defer scratchPool.Put(sc)
	ix.match(q, sc)
	var hits []PassageHit
	for _, d := range sc.touched {
		if s := ix.bm25(q, &ix.docs[d]); s > 0 {
			hits = append(hits, PassageHit{Passage: b.Passages[ix.docs[d].owner], Score: s})
		}
	}
	sc.reset()
	sort.Slice(hits, func(i, j int) bool {
		if hits[i].Score != hits[j].Score {
			return hits[i].Score > hits[j].Score
		}
		return hits[i].Passage.ID < hits[j].Passage.ID
	})
	if k > 0 && len(hits) > k {
		hits = hits[:k]
	}
	return hits
}
