package flows

import (
	"regexp"
	"sort"
)

// Match strength of a trigger kind: when flows of equal priority match the
// same input, the stronger kind wins, then the longer keyword, then the flow
// defined first.
const (
	rankIntent   = 1
	rankContains = 2
	rankRegex    = 3
	rankExact    = 4 // exact keyword or event
)

// hit is a flow whose trigger matched an input.
type hit struct {
	flow   *Flow
	order  int
	rank   int
	weight int
}

// triggerIndex finds the flows an input triggers without looking at every
// flow: exact keywords and events are map look-ups, contains keywords one
// Aho–Corasick pass; only regex triggers are tried one by one.
type triggerIndex struct {
	exact    map[string][]int
	contains *acAutomaton
	patterns []string
	owners   [][]int // contains pattern -> flows
	regex    []regexTrigger
	events   map[string][]int // "type" (any key) or "type\x00key"
	intents  map[string][]int
	flows    []*Flow
}

type regexTrigger struct {
	flow int
	re   *regexp.Regexp
}

func buildIndex(flows []*Flow) *triggerIndex {
	ix := &triggerIndex{
		exact:   map[string][]int{},
		events:  map[string][]int{},
		intents: map[string][]int{},
		flows:   flows,
	}
	patternID := map[string]int{}
	for i, fl := range flows {
		t := fl.Triggers
		for _, k := range t.Keywords {
			ix.exact[k] = appendOnce(ix.exact[k], i)
		}
		for _, k := range t.Contains {
			id, ok := patternID[k]
			if !ok {
				id = len(ix.patterns)
				patternID[k] = id
				ix.patterns = append(ix.patterns, k)
				ix.owners = append(ix.owners, nil)
			}
			ix.owners[id] = appendOnce(ix.owners[id], i)
		}
		for _, re := range t.Regex {
			ix.regex = append(ix.regex, regexTrigger{flow: i, re: re})
		}
		for _, ev := range t.Events {
			key := ev.Type
			if ev.Key != "" {
				key += "\x00" + ev.Key
			}
			ix.events[key] = appendOnce(ix.events[key], i)
		}
		if t.Intent != nil {
			ix.intents[t.Intent.Name] = appendOnce(ix.intents[t.Intent.Name], i)
		}
	}
	ix.contains = newAutomaton(ix.patterns)
	return ix
}

func appendOnce(list []int, i int) []int {
	if n := len(list); n > 0 && list[n-1] == i {
		return list
	}
	return append(list, i)
}

// matchText returns the flows a normalized text triggers, best first. raw is
// the text before normalization, for regex triggers (nil: use text).
func (ix *triggerIndex) matchText(text string, raw *string) []hit {
	var hits []hit
	add := func(i, rank, weight int) {
		for j := range hits {
			if hits[j].order == i {
				if rank > hits[j].rank || (rank == hits[j].rank && weight > hits[j].weight) {
					hits[j].rank, hits[j].weight = rank, weight
				}
				return
			}
		}
		hits = append(hits, hit{flow: ix.flows[i], order: i, rank: rank, weight: weight})
	}
	for _, i := range ix.exact[text] {
		add(i, rankExact, len(text))
	}
	ix.contains.each(text, func(p int) {
		for _, i := range ix.owners[p] {
			add(i, rankContains, len(ix.patterns[p]))
		}
	})
	if len(ix.regex) > 0 {
		src := text
		if raw != nil {
			src = *raw
		}
		for _, rt := range ix.regex {
			if rt.re.MatchString(src) {
				add(rt.flow, rankRegex, 0)
			}
		}
	}
	sortHits(hits)
	return hits
}

// matchEvent returns the flows an event triggers, best first; a trigger
// naming the key beats one for any key.
func (ix *triggerIndex) matchEvent(typ, key string) []hit {
	var hits []hit
	if key != "" {
		for _, i := range ix.events[typ+"\x00"+key] {
			hits = append(hits, hit{flow: ix.flows[i], order: i, rank: rankExact, weight: 1})
		}
	}
	for _, i := range ix.events[typ] {
		hits = append(hits, hit{flow: ix.flows[i], order: i, rank: rankExact})
	}
	sortHits(hits)
	return hits
}

// matchIntent returns the flows listening for intent.
func (ix *triggerIndex) matchIntent(intent string) []hit {
	var hits []hit
	for _, i := range ix.intents[intent] {
		hits = append(hits, hit{flow: ix.flows[i], order: i, rank: rankIntent})
	}
	sortHits(hits)
	return hits
}

func sortHits(hits []hit) {
	if len(hits) < 2 {
		return
	}
	sort.SliceStable(hits, func(a, b int) bool {
		x, y := hits[a], hits[b]
		if x.flow.Priority != y.flow.Priority {
			return x.flow.Priority > y.flow.Priority
		}
		if x.rank != y.rank {
			return x.rank > y.rank
		}
		if x.weight != y.weight {
			return x.weight > y.weight
		}
		return x.order < y.order
	})
}
