package event

import "testing"

// BenchmarkDecode: the per-record decoding cost of the pipeline.
// go test -run=^$ -bench=Decode -benchmem ./pipeline/event
func BenchmarkDecode(b *testing.B) {
	msg := []byte(`{"topic":"messages","event_id":"e-1c2f00a9","shop_id":"shop-042","buyer_id":"tb_8821337","sender":"agent","agent_id":"shop-042:xiaomei","ts":"2026-11-20T10:00:07.250+08:00"}`)
	var d Decoder
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		if _, r := d.Decode(Messages, msg); r != OK {
			b.Fatal(r)
		}
	}
}
