package router

import (
	"context"
	"fmt"

	"github.com/kefu-gateway/kefu/adapters"
	"github.com/kefu-gateway/kefu/adapters/message"
	"github.com/kefu-gateway/kefu/internal/store"
	"github.com/redis/go-redis/v9"
)

// TranscriptReader reads conversation transcripts from Redis.
type TranscriptReader struct {
	rdb  redis.UniversalClient
	keys store.Keys
}

var _ adapters.Transcripts = (*TranscriptReader)(nil)

// NewTranscriptReader returns a reader over rdb.
func NewTranscriptReader(rdb redis.UniversalClient, keys store.Keys) *TranscriptReader {
	return &TranscriptReader{rdb: rdb, keys: keys}
}

// After returns up to limit entries after the entry id after. With after
// empty it returns the newest limit entries, oldest first. Each message's ID
// is its transcript entry id.
func (t *TranscriptReader) After(ctx context.Context, conv, after string, limit int) ([]message.Message, error) {
	key := t.keys.Transcript(conv)
	var xs []redis.XMessage
	var err error
	if after == "" {
		xs, err = t.rdb.XRevRangeN(ctx, key, "+", "-", int64(limit)).Result()
		for i, j := 0, len(xs)-1; i < j; i, j = i+1, j-1 {
			xs[i], xs[j] = xs[j], xs[i]
		}
	} else {
		xs, err = t.rdb.XRangeN(ctx, key, "("+after, "+", int64(limit)).Result()
	}
	if err != nil {
		return nil, fmt.Errorf("reading transcript: %w", err)
	}
	out := make([]message.Message, 0, len(xs))
	for _, x := range xs {
		m, err := DecodeEntry(x.ID, x.Values["m"])
		if err != nil {
			continue
		}
		out = append(out, m)
	}
	return out, nil
}

// DecodeEntry decodes a transcript entry's message and sets its ID.
func DecodeEntry(id string, raw any) (message.Message, error) {
	var m message.Message
	s, ok := raw.(string)
	if !ok {
		return m, fmt.Errorf("transcript entry %s has no message", id)
	}
	if err := decodeJSON([]byte(s), &m); err != nil {
		return m, fmt.Errorf("decoding transcript entry %s: %w", id, err)
	}
	m.ID = id
	return m, nil
}
