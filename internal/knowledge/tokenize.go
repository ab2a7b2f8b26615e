package knowledge

import (
	"unicode"
	"unicode/utf8"
)

// Token kinds get different weights: a shared character bigram is strong
// evidence, a shared single character weak evidence that still catches typos
// and reordered words, and a query's skip-bigram (two characters one apart,
// "退个货" → 退货) catches words split by a measure word or a typo.
const (
	unigramWeight    = 0.25
	bigramWeight     = 1.0
	skipBigramWeight = 0.5
	wordWeight       = 1.0
	// functionWeight scales terms that shape a question rather than say what
	// it is about (怎么, 什么, 我们, 能, 的 ...), so that two questions sharing
	// only their question form do not look alike.
	functionWeight = 0.3
)

// functionTerms are the question-form words, pronouns and particles of
// Mandarin. The list is about the language, not any knowledge base.
var functionTerms = func() map[string]bool {
	m := map[string]bool{}
	for _, r := range "我你您他她它们的了是在有吗呢能要会想怎么什哪里这那个吧就还都也和跟给让把被对说下一不没多少啊呀么啥得地着过很太吧嘛请问弄搞" {
		m[string(r)] = true
	}
	for _, w := range []string{"怎么", "什么", "我们", "你们", "他们", "哪里", "哪个", "这个", "那个", "一个", "时候",
		"多少", "没有", "还是", "就是", "的话", "是否", "为什", "可以", "能不", "是不", "要不", "不能", "不了", "了吗",
		"我的", "你的", "我想", "我要", "怎么办", "一下", "有的", "是什", "么时", "么办", "么样", "的时", "了一", "个月"} {
		m[w] = true
	}
	return m
}()

// term is one indexed feature of a text with its weight.
type term struct {
	text   string
	weight float64
}

func weighted(text string, w float64) term {
	if functionTerms[text] {
		w *= functionWeight
	}
	return term{text: text, weight: w}
}

// pairTerm weighs a bigram or skip-bigram: a pair with a function character
// on either side ("么退", "要退") is mostly noise from the question's form and
// weighs like a function word.
func pairTerm(a, b rune, w float64) term {
	text := string([]rune{a, b})
	if functionTerms[text] || functionTerms[string(a)] || functionTerms[string(b)] {
		w *= functionWeight
	}
	return term{text: text, weight: w}
}

// tokenize turns normalized text into terms: for runs of Han characters every
// character (unigram) and every adjacent pair (bigram); for runs of Latin
// letters or digits the whole word. Bigrams never cross a segment boundary
// (punctuation or space). With skip set, pairs of Han characters one apart
// are added too (used for queries, not for indexed documents).
func tokenize(parts []string, skip bool) []term {
	var out []term
	for _, seg := range parts {
		prev, prev2 := rune(-1), rune(-1)
		word := make([]rune, 0, 8)
		flushWord := func() {
			if len(word) > 0 {
				out = append(out, weighted(string(word), wordWeight))
				word = word[:0]
			}
		}
		for len(seg) > 0 {
			r, size := utf8.DecodeRuneInString(seg)
			seg = seg[size:]
			if unicode.Is(unicode.Han, r) {
				flushWord()
				out = append(out, weighted(string(r), unigramWeight))
				if prev >= 0 {
					out = append(out, pairTerm(prev, r, bigramWeight))
				}
				if skip && prev2 >= 0 {
					out = append(out, pairTerm(prev2, r, skipBigramWeight))
				}
				prev2, prev = prev, r
				continue
			}
			prev, prev2 = -1, -1
			word = append(word, r)
		}
		flushWord()
	}
	return out
}
