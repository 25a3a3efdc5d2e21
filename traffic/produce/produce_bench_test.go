package produce

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/cskpi/cskpi/traffic/synth"
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

// BenchmarkLoadgen measures live synthetic traffic against the in-process broker at a
// rate above what one process can produce: records per second of the generator, the JSON
// round trip and the client together.
// go test -run=^$ -bench=Loadgen -benchtime=1x ./traffic/produce
func BenchmarkLoadgen(b *testing.B) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(partitions, DefaultMessagesTopic, DefaultOrdersTopic))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	for b.Loop() {
		start := time.Now()
		n, err := Loadgen(context.Background(), LoadgenOptions{Options: Options{Brokers: c.ListenAddrs()},
			Rate: 2e5, Duration: 3 * time.Second, Shops: 1000, SlowShops: 1, Seed: 7})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(n)/time.Since(start).Seconds(), "records/s")
	}
}
