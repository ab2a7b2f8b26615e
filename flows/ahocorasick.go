package flows

import "sort"

// acAutomaton finds every keyword contained in a text in one pass over the
// text's bytes (Aho–Corasick), so "contains" triggers cost the same with ten
// flows or a thousand. It works on UTF-8 bytes: since UTF-8 is
// self-synchronising, a byte match of a valid keyword in valid text always
// starts and ends on character boundaries.
type acAutomaton struct {
	root   [256]int32 // transitions out of the root, dense for speed
	states []acState
	edges  []acEdge // each state's edges, sorted by byte, in one array
}

type acState struct {
	edgeStart, edgeCount int32
	fail                 int32
	out                  int32 // pattern ending here, or -1
	dict                 int32 // nearest state on the fail chain with an output, or -1
}

type acEdge struct {
	b    byte
	next int32
}

// newAutomaton builds the automaton for patterns; a match reports the index
// of the pattern in that slice. Patterns must be distinct and non-empty.
func newAutomaton(patterns []string) *acAutomaton {
	// Build the trie with maps, then freeze it into sorted flat arrays.
	type node struct {
		next map[byte]int32
		out  int32
	}
	nodes := []node{{next: map[byte]int32{}, out: -1}}
	for id, p := range patterns {
		s := int32(0)
		for i := 0; i < len(p); i++ {
			n, ok := nodes[s].next[p[i]]
			if !ok {
				n = int32(len(nodes))
				nodes = append(nodes, node{next: map[byte]int32{}, out: -1})
				nodes[s].next[p[i]] = n
			}
			s = n
		}
		nodes[s].out = int32(id)
	}
	a := &acAutomaton{states: make([]acState, len(nodes))}
	for i, n := range nodes {
		keys := make([]int, 0, len(n.next))
		for b := range n.next {
			keys = append(keys, int(b))
		}
		sort.Ints(keys)
		a.states[i] = acState{edgeStart: int32(len(a.edges)), edgeCount: int32(len(keys)), out: n.out, dict: -1}
		for _, b := range keys {
			a.edges = append(a.edges, acEdge{b: byte(b), next: n.next[byte(b)]})
		}
	}
	for _, e := range a.edgeList(0) {
		a.root[e.b] = e.next
	}
	// Breadth-first: fail links point to the longest proper suffix in the trie.
	queue := make([]int32, 0, len(nodes))
	for _, e := range a.edgeList(0) {
		a.states[e.next].fail = 0
		queue = append(queue, e.next)
	}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		for _, e := range a.edgeList(s) {
			f := a.states[s].fail
			for {
				if n := a.step1(f, e.b); n >= 0 {
					a.states[e.next].fail = n
					break
				}
				if f == 0 {
					a.states[e.next].fail = 0
					break
				}
				f = a.states[f].fail
			}
			fs := a.states[e.next].fail
			if a.states[fs].out >= 0 {
				a.states[e.next].dict = fs
			} else {
				a.states[e.next].dict = a.states[fs].dict
			}
			queue = append(queue, e.next)
		}
	}
	return a
}

func (a *acAutomaton) edgeList(s int32) []acEdge {
	st := a.states[s]
	return a.edges[st.edgeStart : st.edgeStart+st.edgeCount]
}

// step1 follows the edge for b out of s, or returns -1 (root: 0 for none).
func (a *acAutomaton) step1(s int32, b byte) int32 {
	if s == 0 {
		return a.root[b]
	}
	st := a.states[s]
	edges := a.edges[st.edgeStart : st.edgeStart+st.edgeCount]
	lo, hi := 0, len(edges)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if edges[m].b < b {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(edges) && edges[lo].b == b {
		return edges[lo].next
	}
	return -1
}

// each calls fn with the index of every pattern occurring in text (a pattern
// occurring twice is reported twice).
func (a *acAutomaton) each(text string, fn func(pattern int)) {
	if len(a.states) <= 1 {
		return
	}
	s := int32(0)
	for i := 0; i < len(text); i++ {
		b := text[i]
		for {
			if n := a.step1(s, b); n >= 0 {
				s = n
				break
			}
			s = a.states[s].fail
		}
		for o := s; o > 0; o = a.states[o].dict {
			if a.states[o].out >= 0 {
				fn(int(a.states[o].out))
			}
			if a.states[o].dict < 0 {
				break
			}
		}
	}
}
