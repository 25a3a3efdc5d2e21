package produce

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/cskpi/cskpi/pipeline/synth"
)

// BenchmarkLines measures publishing against the in-process broker: an upper bound on the
// client side's cost per record (a real broker adds network and disk).
func BenchmarkLines(b *testing.B) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(partitions, DefaultMessagesTopic, DefaultOrdersTopic))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	g := synth.New(synth.Config{Seed: 1, Shops: 20, SlowShops: 3, Start: time.Now().Add(-time.Hour)})
	const n = 50000
	ls := make([][]byte, n)
	var size int64
	for i := range ls {
		ls[i] = g.Next()
		size += int64(len(ls[i]))
	}
	b.SetBytes(size / n)
	b.ResetTimer()
	for i := 0; i < b.N; i += n {
		if _, err := Lines(context.Background(), ls[:min(n, b.N-i)], Options{Brokers: c.ListenAddrs()}); err != nil {
			b.Fatal(err)
		}
	}
}
