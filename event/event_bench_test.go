package event

import "testing"

// BenchmarkDecode: the per-record decoding cost of the pipeline.
// go test -run=^$ -bench=Decode -benchmem ./event
func BenchmarkDecode(b *testing.B) {
	msg := []byte(`{"topic":"messages","event_id":"e-1c2f00a9","shop_id":"shop-042","buyer_id":"tb_8821337","sender":"agent","agent_id":"shop-042:xiaomei","ts":"2026-11-20T10:00:07.250+08:00"}`)
	benchDecode(b, Messages, msg)
}

// BenchmarkDecodeOrder: the same for an order_paid record with an amount.
func BenchmarkDecodeOrder(b *testing.B) {
	msg := []byte(`{"topic":"orders","event_id":"o-77a3e1f0","shop_id":"shop-042","buyer_id":"tb_8821337","type":"order_paid","order_id":"TB20261120-000981","amount":"129.90","ts":"2026-11-20T10:02:41.007+08:00"}`)
	benchDecode(b, Orders, msg)
}

func benchDecode(b *testing.B, topic Topic, msg []byte) {
	var d Decoder
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		if _, r := d.Decode(topic, msg); r != OK {
			b.Fatal(r)
		}
	}
}

// BenchmarkDecodeBuyerScene: a buyer's message from an order page, the one record that reads
// scene.
func BenchmarkDecodeBuyerScene(b *testing.B) {
	msg := []byte(`{"topic":"messages","event_id":"e-1c2f00aa","shop_id":"shop-042","buyer_id":"tb_8821337","sender":"buyer","scene":"aftersale","ts":"2026-11-20T10:00:07.250+08:00"}`)
	benchDecode(b, Messages, msg)
}
