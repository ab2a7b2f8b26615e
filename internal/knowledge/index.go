package knowledge

import (
	"math"
	"sort"
)

// index is an inverted index over short texts (FAQ questions and their
// `similar` variants, or document passages). Scoring is IDF-weighted term
// overlap; see coverage and bm25.
type index struct {
	terms    map[string]uint32
	weight   []float64  // per term id: kind weight × IDF
	kindW    []float64  // per term id: kind weight alone
	postings [][]uint32 // per term id: ids of the docs holding it, ascending
	docs     []doc
	maxIDF   float64
	avgLen   float64
}

// doc is one indexed text: its distinct term ids (ascending), its total term
// weight, and what it belongs to (an FAQ or a passage, by position).
type doc struct {
	terms  []uint32
	tf     []uint16 // term frequencies, parallel to terms
	total  float64
	length int
	owner  int32
	text   string
}

// idf is the BM25 inverse document frequency: never negative, highest for
// terms in few documents.
func idf(n, df int) float64 {
	return math.Log(1 + (float64(n)-float64(df)+0.5)/(float64(df)+0.5))
}

type indexBuilder struct {
	ix *index
}

func newIndexBuilder() *indexBuilder {
	return &indexBuilder{ix: &index{terms: map[string]uint32{}}}
}

// add indexes text as a document owned by owner.
func (b *indexBuilder) add(owner int, text string) {
	ix := b.ix
	ts := tokenize(normalizedParts(text), false)
	if len(ts) == 0 {
		return
	}
	tf := map[uint32]int{}
	for _, t := range ts {
		id, ok := ix.terms[t.text]
		if !ok {
			id = uint32(len(ix.kindW))
			ix.terms[t.text] = id
			ix.kindW = append(ix.kindW, t.weight)
			ix.postings = append(ix.postings, nil)
		}
		tf[id]++
	}
	d := doc{owner: int32(owner), length: len(ts), text: text}
	for id := range tf {
		d.terms = append(d.terms, id)
	}
	sort.Slice(d.terms, func(i, j int) bool { return d.terms[i] < d.terms[j] })
	d.tf = make([]uint16, len(d.terms))
	docID := uint32(len(ix.docs))
	for i, id := range d.terms {
		n := tf[id]
		if n > math.MaxUint16 {
			n = math.MaxUint16
		}
		d.tf[i] = uint16(n)
		ix.postings[id] = append(ix.postings[id], docID)
	}
	ix.docs = append(ix.docs, d)
}

// build computes the term weights and document totals.
func (b *indexBuilder) build() *index {
	ix := b.ix
	n := len(ix.docs)
	ix.weight = make([]float64, len(ix.kindW))
	ix.maxIDF = idf(n, 0)
	for id := range ix.weight {
		ix.weight[id] = ix.kindW[id] * idf(n, len(ix.postings[id]))
	}
	total := 0
	for i := range ix.docs {
		d := &ix.docs[i]
		for _, id := range d.terms {
			d.total += ix.weight[id]
		}
		total += d.length
	}
	if n > 0 {
		ix.avgLen = float64(total) / float64(n)
	}
	return ix
}

// query is a tokenized query resolved against an index.
type query struct {
	ids     []uint32 // known term ids, distinct
	weights []float64
	total   float64 // weight of all query terms, unknown ones included
}

// prepare resolves the query's terms. Terms the index has never seen count
// toward the query's total weight at the highest IDF: words about something
// the knowledge base does not cover lower the confidence of every match.
func (ix *index) prepare(parts []string) query {
	var q query
	seen := map[string]bool{}
	for _, t := range tokenize(parts, true) {
		if seen[t.text] {
			continue
		}
		seen[t.text] = true
		id, ok := ix.terms[t.text]
		if !ok {
			q.total += t.weight * ix.maxIDF
			continue
		}
		// A skip-bigram weighs less than the same pair written adjacently.
		w := ix.weight[id] * t.weight / ix.kindW[id]
		q.ids = append(q.ids, id)
		q.weights = append(q.weights, w)
		q.total += w
	}
	return q
}

// candidateBudget bounds how many postings one query walks: rare terms are
// walked first, so a query over a large base stays fast while every document
// sharing a discriminating term is still scored.
const candidateBudget = 4000

// refineLimit is how many candidates get their overlap completed with the
// query terms whose postings were not walked.
const refineLimit = 256

// scratch is per-query working memory, pooled so a query allocates little.
type scratch struct {
	acc     []float64 // per doc: matched query weight
	touched []uint32  // docs with acc > 0, in first-touch order
}

// match accumulates, for every candidate document, the summed weight of the
// query terms it holds. Postings of q's terms are walked rarest first until
// candidateBudget postings have been read (the rarest term is always read
// whole); the terms left over are then looked up in each candidate's own
// term list, so candidates get their exact overlap.
func (ix *index) match(q query, sc *scratch) {
	if cap(sc.acc) < len(ix.docs) {
		sc.acc = make([]float64, len(ix.docs))
	}
	sc.acc = sc.acc[:len(ix.docs)]
	sc.touched = sc.touched[:0]
	order := make([]int, len(q.ids))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool {
		return len(ix.postings[q.ids[order[a]]]) < len(ix.postings[q.ids[order[b]]])
	})
	read, walked := 0, 0
	for n, i := range order {
		p := ix.postings[q.ids[i]]
		if n > 0 && read+len(p) > candidateBudget {
			break
		}
		read += len(p)
		walked++
		w := q.weights[i]
		for _, d := range p {
			if sc.acc[d] == 0 {
				sc.touched = append(sc.touched, d)
			}
			sc.acc[d] += w
		}
	}
	if walked == len(order) {
		return
	}
	// The terms left over are the commonest, so they cannot lift a document
	// with little overlap so far above the rest: refine only the best
	// refineLimit candidates and drop the others.
	if len(sc.touched) > refineLimit {
		selectTop(sc.touched, sc.acc, refineLimit)
		for _, d := range sc.touched[refineLimit:] {
			sc.acc[d] = 0
		}
		sc.touched = sc.touched[:refineLimit]
	}
	for _, i := range order[walked:] {
		id, w := q.ids[i], q.weights[i]
		for _, d := range sc.touched {
			terms := ix.docs[d].terms
			j := sort.Search(len(terms), func(k int) bool { return terms[k] >= id })
			if j < len(terms) && terms[j] == id {
				sc.acc[d] += w
			}
		}
	}
}

// reset clears the accumulators match set.
func (sc *scratch) reset() {
	for _, d := range sc.touched {
		sc.acc[d] = 0
	}
	sc.touched = sc.touched[:0]
}

// coverage scores how well document d and query q cover each other, in
// [0, 1]: the F-measure (weighted by beta) of the share of the query's term
// weight found in d (recall) and the share of d's term weight found in the
// query (precision). Customers wrap their question in context ("我昨天买的
// 外套有点大，能换吗"), so precision — the FAQ wording being present — counts
// more than recall; beta < 1 expresses that.
func coverage(matched, qTotal, dTotal, beta float64) float64 {
	if matched <= 0 || qTotal <= 0 || dTotal <= 0 {
		return 0
	}
	r := matched / qTotal
	p := matched / dTotal
	b2 := beta * beta
	return (1 + b2) * p * r / (b2*p + r)
}

// bm25 scores document d for q with the usual k1 = 1.2, b = 0.75.
func (ix *index) bm25(q query, d *doc) float64 {
	const k1, bParam = 1.2, 0.75
	s := 0.0
	for i, id := range q.ids {
		j := sort.Search(len(d.terms), func(k int) bool { return d.terms[k] >= id })
		if j == len(d.terms) || d.terms[j] != id {
			continue
		}
		tf := float64(d.tf[j])
		norm := tf * (k1 + 1) / (tf + k1*(1-bParam+bParam*float64(d.length)/ix.avgLen))
		s += q.weights[i] * norm
	}
	return s
}

// selectTop reorders docs so that its first k entries are the k with the
// highest acc (in no particular order), in linear expected time
// (quickselect with a median-of-three pivot; ties broken by doc id so the
// result never depends on input order).
func selectTop(docs []uint32, acc []float64, k int) {
	better := func(a, b uint32) bool {
		if acc[a] != acc[b] {
			return acc[a] > acc[b]
		}
		return a < b
	}
	lo, hi := 0, len(docs)-1
	for lo < hi {
		mid := lo + (hi-lo)/2
		// Median of three to docs[hi] as the pivot.
		if better(docs[mid], docs[lo]) {
			docs[mid], docs[lo] = docs[lo], docs[mid]
		}
		if better(docs[hi], docs[lo]) {
			docs[hi], docs[lo] = docs[lo], docs[hi]
		}
		if better(docs[mid], docs[hi]) {
			docs[mid], docs[hi] = docs[hi], docs[mid]
		}
		pivot := docs[hi]
		store := lo
		for i := lo; i < hi; i++ {
			if better(docs[i], pivot) {
				docs[i], docs[store] = docs[store], docs[i]
				store++
			}
		}
		docs[store], docs[hi] = docs[hi], docs[store]
		switch {
		case store == k || store == k-1:
			return
		case store < k:
			lo = store + 1
		default:
			hi = store - 1
		}
	}
}
