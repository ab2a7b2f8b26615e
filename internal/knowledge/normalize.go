package knowledge

import (
	"strings"
	"unicode"
)

// Normalize folds a customer's text to the form the index matches on:
// full-width letters and digits become half-width, letters are lower-cased,
// common traditional characters become simplified, punctuation and symbols
// become spaces, colloquial question words become their standard form (咋 →
// 怎么, 啥 → 什么), filler that carries no meaning (请问, 你好, 那个, 一下,
// sentence-final 吗/呢/啊 ...) is dropped, and runs of spaces collapse. Two
// texts that differ only in those ways normalize to the same string.
func Normalize(s string) string {
	return strings.Join(normalizedParts(s), " ")
}

// normalizedParts is Normalize's result before joining: the text's segments
// between punctuation, each folded and stripped of filler.
func normalizedParts(s string) []string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		r = foldRune(r)
		switch {
		case r == 0:
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		default:
			b.WriteByte(' ')
		}
	}
	var parts []string
	for _, seg := range strings.Fields(b.String()) {
		seg = colloquial.Replace(seg)
		seg = stripFiller(seg)
		if seg != "" {
			parts = append(parts, seg)
		}
	}
	return parts
}

// foldRune maps one rune: full width to half width, upper to lower case,
// traditional to simplified. It returns 0 for runes to drop (control and
// zero-width characters).
func foldRune(r rune) rune {
	switch {
	case r >= 0xFF01 && r <= 0xFF5E: // full-width ASCII block
		r -= 0xFEE0
	case r == 0x3000: // ideographic space
		return ' '
	case r == 0x200B || r == 0x200C || r == 0x200D || r == 0xFEFF:
		return 0
	}
	if unicode.IsControl(r) {
		return ' '
	}
	if s, ok := trad2simp[r]; ok {
		r = s
	}
	return unicode.ToLower(r)
}

// colloquial maps spoken and regional question words to one standard form, so
// that "咋退货" and "怎么退货" match. It is about the Chinese language, not
// about any one shop: synonyms specific to a business belong in its FAQs'
// `similar` lists.
var colloquial = strings.NewReplacer(
	"咋样", "怎么", "咋办", "怎么办", "咋", "怎么",
	"怎么样", "怎么", "怎样", "怎么", "如何", "怎么", "怎么着", "怎么",
	"啥时候", "什么时候", "啥", "什么", "神马", "什么", "甚么", "什么",
	"多长时间", "多久", "多少时间", "多久", "多少天", "多久", "多长时候", "多久",
	"能不能", "能", "可不可以", "能", "能否", "能", "可否", "能", "可以", "能", "能够", "能", "行不行", "行",
	"有没有", "有", "有木有", "有", "是不是", "是", "要不要", "要", "会不会", "会",
	"木有", "没有", "米有", "没有", "么有", "没有",
	"肿么", "怎么", "为啥", "为什么", "干嘛", "为什么",
)

// fillerPhrases carry no meaning for matching wherever they appear.
var fillerPhrases = []string{
	"请问一下", "请问", "问一下", "想问下", "想问", "我想知道", "想知道", "想咨询", "咨询一下", "咨询下",
	"你好", "您好", "哈喽", "嗨", "亲爱的", "亲亲", "在吗", "在不在",
	"麻烦你", "麻烦您", "麻烦", "谢谢你", "谢谢", "多谢", "辛苦了",
	"那个", "就是说", "一下", "一哈", "呃", "嗯嗯", "嗯",
}

// finalParticles are dropped at the end of a segment (句末语气词).
var finalParticles = "吗呢啊吧呀哦嘛啦哈呐噢喔"

func stripFiller(seg string) string {
	for _, f := range fillerPhrases {
		if strings.Contains(seg, f) {
			seg = strings.ReplaceAll(seg, f, "")
		}
	}
	if seg == "亲" {
		return ""
	}
	for seg != "" {
		trimmed := strings.TrimRight(seg, finalParticles)
		if trimmed == seg {
			break
		}
		seg = trimmed
	}
	return seg
}
