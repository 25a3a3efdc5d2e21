package synth

import (
	"testing"
	"time"
)

func BenchmarkGeneratorNext(b *testing.B) {
	g := New(Config{Seed: 1, Shops: 20, SlowShops: 3, Start: time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC), Rate: 50})
	var n int64
	b.ReportAllocs()
	for b.Loop() {
		n += int64(len(g.Next()))
	}
	b.SetBytes(n / int64(max(b.N, 1)))
}
