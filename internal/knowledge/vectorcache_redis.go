package knowledge

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisVectorCache keeps embeddings in Redis under Prefix + content hash, as
// little-endian float32 bytes, so every kefu process shares them and a
// restart embeds nothing it embedded before.
type RedisVectorCache struct {
	Client redis.UniversalClient
	// Prefix starts every key (default "kefu:kb:vec:").
	Prefix string
	// TTL expires vectors no reload has asked for in that long (default 30
	// days, set on every write).
	TTL time.Duration
}

var _ VectorCache = (*RedisVectorCache)(nil)

func (c *RedisVectorCache) prefix() string {
	if c.Prefix == "" {
		return "kefu:kb:vec:"
	}
	return c.Prefix
}

func (c *RedisVectorCache) ttl() time.Duration {
	if c.TTL <= 0 {
		return 30 * 24 * time.Hour
	}
	return c.TTL
}

// GetVectors reads the vectors for keys in one round trip; misses are nil.
func (c *RedisVectorCache) GetVectors(ctx context.Context, keys []string) ([][]float32, error) {
	out := make([][]float32, len(keys))
	for start := 0; start < len(keys); start += 500 {
		end := min(start+500, len(keys))
		full := make([]string, 0, end-start)
		for _, k := range keys[start:end] {
			full = append(full, c.prefix()+k)
		}
		vals, err := c.Client.MGet(ctx, full...).Result()
		if err != nil {
			return nil, fmt.Errorf("reading cached vectors: %w", err)
		}
		for i, v := range vals {
			s, ok := v.(string)
			if !ok || len(s)%4 != 0 || len(s) == 0 {
				continue
			}
			vec := make([]float32, len(s)/4)
			for j := range vec {
				vec[j] = math.Float32frombits(binary.LittleEndian.Uint32([]byte(s[j*4 : j*4+4])))
			}
			out[start+i] = vec
		}
	}
	return out, nil
}

// SetVectors writes vectors in one pipelined round trip.
func (c *RedisVectorCache) SetVectors(ctx context.Context, keys []string, vectors [][]float32) error {
	if len(keys) != len(vectors) {
		return fmt.Errorf("caching vectors: %d keys for %d vectors", len(keys), len(vectors))
	}
	_, err := c.Client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, v := range vectors {
			buf := make([]byte, 4*len(v))
			for j, x := range v {
				binary.LittleEndian.PutUint32(buf[j*4:], math.Float32bits(x))
			}
			p.Set(ctx, c.prefix()+keys[i], buf, c.ttl())
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("caching vectors: %w", err)
	}
	return nil
}
