package knowledge

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/redis/go-redis/v9"
)

// GapConfig configures the record of unanswered questions.
type GapConfig struct {
	// Prefix starts every key (default "kefu:kb:gaps").
	Prefix string `yaml:"prefix" json:"prefix"`
	// MaxEntries caps the ranked list (default 5000): past it the least
	// asked entries are dropped.
	MaxEntries int `yaml:"max_entries" json:"max_entries"`
	// Samples is how many original texts are kept per entry (default 5).
	Samples int `yaml:"samples" json:"samples"`
	// SampleTTL expires an entry's samples when it has not been asked for
	// that long (default 30 days).
	SampleTTL time.Duration `yaml:"sample_ttl" json:"sample_ttl"`
}

func (c GapConfig) withDefaults() GapConfig {
	if c.Prefix == "" {
		c.Prefix = "kefu:kb:gaps"
	}
	if c.MaxEntries <= 0 {
		c.MaxEntries = 5000
	}
	if c.Samples <= 0 {
		c.Samples = 5
	}
	if c.SampleTTL <= 0 {
		c.SampleTTL = 30 * 24 * time.Hour
	}
	return c
}

// Gaps counts the questions kefu could not answer, for knowledge-base
// maintainers: a ranked list of normalized questions (so "请问怎么开发票？"
// and "怎么开发票" count together) with a few original texts each. Long digit
// runs (phone and order numbers) are masked before anything is stored.
//
// Keys: <prefix>:rank (sorted set, normalized question → count) and
// <prefix>:samples:<sha256 of the normalized question> (list, newest first).
type Gaps struct {
	client redis.UniversalClient
	cfg    GapConfig
}

// NewGaps returns a gap recorder on client.
func NewGaps(client redis.UniversalClient, cfg GapConfig) *Gaps {
	return &Gaps{client: client, cfg: cfg.withDefaults()}
}

// Gap is one entry of the ranked list.
type Gap struct {
	Question string   `json:"question"` // normalized
	Count    int64    `json:"count"`
	Samples  []string `json:"samples"` // original texts, newest first
}

// longDigits matches digit runs long enough to be a phone, order or card
// number.
var longDigits = regexp.MustCompile(`[0-9０-９]{6,}`)

// maxSampleRunes bounds a stored original text.
const maxSampleRunes = 200

func maskDigits(s string) string { return longDigits.ReplaceAllString(s, "#") }

func (g *Gaps) rankKey() string { return g.cfg.Prefix + ":rank" }

func (g *Gaps) samplesKey(norm string) string {
	sum := sha256.Sum256([]byte(norm))
	return g.cfg.Prefix + ":samples:" + hex.EncodeToString(sum[:12])
}

// Record counts one unanswered question. Empty or filler-only texts are
// ignored. It costs one pipelined round trip.
func (g *Gaps) Record(ctx context.Context, text string) error {
	text = maskDigits(strings.TrimSpace(text))
	norm := Normalize(text)
	if norm == "" {
		return nil
	}
	if utf8.RuneCountInString(text) > maxSampleRunes {
		text = string([]rune(text)[:maxSampleRunes])
	}
	if utf8.RuneCountInString(norm) > maxSampleRunes {
		norm = string([]rune(norm)[:maxSampleRunes])
	}
	sk := g.samplesKey(norm)
	_, err := g.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.ZIncrBy(ctx, g.rankKey(), 1, norm)
		p.LRem(ctx, sk, 0, text)
		p.LPush(ctx, sk, text)
		p.LTrim(ctx, sk, 0, int64(g.cfg.Samples-1))
		p.Expire(ctx, sk, g.cfg.SampleTTL)
		// Keep the MaxEntries most asked; ties drop the newest-sorting.
		p.ZRemRangeByRank(ctx, g.rankKey(), 0, int64(-g.cfg.MaxEntries-1))
		return nil
	})
	if err != nil {
		return fmt.Errorf("recording knowledge gap: %w", err)
	}
	return nil
}

// Top returns the n most asked unanswered questions, most asked first, with
// their samples, in two round trips.
func (g *Gaps) Top(ctx context.Context, n int) ([]Gap, error) {
	if n <= 0 {
		return nil, nil
	}
	zs, err := g.client.ZRevRangeWithScores(ctx, g.rankKey(), 0, int64(n-1)).Result()
	if err != nil {
		return nil, fmt.Errorf("reading knowledge gaps: %w", err)
	}
	if len(zs) == 0 {
		return nil, nil
	}
	cmds := make([]*redis.StringSliceCmd, len(zs))
	_, err = g.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, z := range zs {
			cmds[i] = p.LRange(ctx, g.samplesKey(z.Member.(string)), 0, -1)
		}
		return nil
	})
	if err != nil && err != redis.Nil {
		return nil, fmt.Errorf("reading knowledge gap samples: %w", err)
	}
	out := make([]Gap, len(zs))
	for i, z := range zs {
		out[i] = Gap{Question: z.Member.(string), Count: int64(z.Score), Samples: cmds[i].Val()}
	}
	return out, nil
}

// Forget removes one normalized question from the list, for a maintainer who
// has added an FAQ covering it.
func (g *Gaps) Forget(ctx context.Context, normalized string) error {
	_, err := g.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.ZRem(ctx, g.rankKey(), normalized)
		p.Del(ctx, g.samplesKey(normalized))
		return nil
	})
	if err != nil {
		return fmt.Errorf("forgetting knowledge gap: %w", err)
	}
	return nil
}
