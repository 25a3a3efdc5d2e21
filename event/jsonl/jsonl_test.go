package jsonl

import (
	"strings"
	"testing"

	"github.com/cskpi/cskpi/event"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name  string
		line  string
		topic event.Topic
		key   string
		value string
		err   bool
	}{
		{"explicit topic", `{"topic":"orders","shop_id":"s","buyer_id":"b"}`, event.Orders, "s/b", `{"topic":"orders","shop_id":"s","buyer_id":"b"}`, false},
		{"sender means messages", `{"sender":"buyer","shop_id":"s","buyer_id":"b/x"}`, event.Messages, "s/b/x", `{"sender":"buyer","shop_id":"s","buyer_id":"b/x"}`, false},
		{"raw bytes", string(Raw(event.Messages, "k", []byte("\xff\x00not json"))), event.Messages, "k", "\xff\x00not json", false},
		{"unknown topic", `{"topic":"x"}`, 0, "", "", true},
		{"not json", `nope`, 0, "", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Parse([]byte(tc.line))
			if (err != nil) != tc.err {
				t.Fatalf("err = %v", err)
			}
			if err != nil {
				return
			}
			if r.Topic != tc.topic || string(r.Key) != tc.key || string(r.Value) != tc.value {
				t.Errorf("got %v %q %q", r.Topic, r.Key, r.Value)
			}
		})
	}
}

func TestReadSkipsEmptyLinesAndNamesBadOnes(t *testing.T) {
	n := 0
	err := Read(strings.NewReader("{\"sender\":\"buyer\"}\n\n{\"type\":\"order_paid\"}\n"), func(Record) error { n++; return nil })
	if err != nil || n != 2 {
		t.Fatalf("read %d records, err %v", n, err)
	}
	err = Read(strings.NewReader("{}\nbad\n"), func(Record) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("error %v does not name line 2", err)
	}
}
