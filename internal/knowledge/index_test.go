package knowledge

import (
	"math/rand/v2"
	"slices"
	"testing"
)

func TestSelectTop(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for trial := 0; trial < 200; trial++ {
		n := 1 + rng.IntN(300)
		acc := make([]float64, n)
		docs := make([]uint32, n)
		for i := range acc {
			acc[i] = float64(rng.IntN(20)) // many ties
			docs[i] = uint32(i)
		}
		k := 1 + rng.IntN(n)
		selectTop(docs, acc, k)
		want := make([]uint32, n)
		for i := range want {
			want[i] = uint32(i)
		}
		slices.SortFunc(want, func(a, b uint32) int {
			if acc[a] != acc[b] {
				if acc[a] > acc[b] {
					return -1
				}
				return 1
			}
			return int(a) - int(b)
		})
		got := slices.Clone(docs[:k])
		slices.Sort(got)
		top := slices.Clone(want[:k])
		slices.Sort(top)
		if !slices.Equal(got, top) {
			t.Fatalf("n=%d k=%d: top %v, want %v", n, k, got, top)
		}
	}
}
