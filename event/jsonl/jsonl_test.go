package jsonl

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
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
		{"null key means shop/buyer", `{"key":null,"sender":"buyer","shop_id":"s","buyer_id":"b"}`, event.Messages, "s/b", `{"key":null,"sender":"buyer","shop_id":"s","buyer_id":"b"}`, false},
		{"kcat envelope", `{"topic":"cs.orders","partition":0,"offset":5,"tstype":"create","ts":1,"broker":1,"key":"s/b","payload":"{\"type\":\"order_paid\"}"}`, event.Orders, "s/b", `{"type":"order_paid"}`, false},
		{"kcat envelope keeps the payload's topic out of routing", `{"topic":"cs.messages","partition":0,"offset":5,"key":"k","payload":"{\"topic\":\"orders\"}"}`, event.Messages, "k", `{"topic":"orders"}`, false},
		{"kcat envelope without key", `{"topic":"cs.messages","partition":0,"offset":5,"key":null,"payload":"x"}`, event.Messages, "", "x", false},
		{"kcat envelope of another topic", `{"topic":"cs.deadletter","partition":0,"offset":5,"key":null,"payload":"x"}`, 0, "", "", true},
		{"kcat envelope with a payload not a string", `{"topic":"cs.orders","partition":0,"offset":5,"key":null,"payload":{"type":"order_paid"}}`, 0, "", "", true},
		{"payload alone is an event's unknown field", `{"topic":"orders","payload":"x","shop_id":"s","buyer_id":"b"}`, event.Orders, "s/b", `{"topic":"orders","payload":"x","shop_id":"s","buyer_id":"b"}`, false},
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

// TestKcatFile reads `kcat -C -J` output: every payload comes back byte for byte, whatever
// kcat escaped (quotes, control characters, a solidus) or left alone (non-UTF-8 bytes).
func TestKcatFile(t *testing.T) {
	f, err := os.Open(filepath.Join("testdata", "kcat.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var got []Record
	if err := Read(f, func(r Record) error { got = append(got, r); return nil }); err != nil {
		t.Fatal(err)
	}
	want := []Record{
		{event.Messages, []byte("shop-001/tb_88213"), []byte(`{"event_id":"m-1","shop_id":"shop-001","buyer_id":"tb_88213","sender":"buyer","ts":"2026-11-20T10:00:00+08:00"}`)},
		{event.Orders, []byte("shop-001/tb_88213"), []byte(`{"event_id":"o-2","shop_id":"shop-001","buyer_id":"tb_88213","type":"order_paid","order_id":"9001\/A","amount":"89.00","ts":"2026-11-20T10:06:10+08:00","note":"好"}`)},
		{event.Messages, nil, []byte(`{"event_id":"m-9"}`)},
		{event.Orders, []byte("k"), nil},
		{event.Messages, []byte("k\xff"), []byte("{\x00\xff\xfe / \U0001F600 \uFFFD}")},
	}
	if len(got) != len(want) {
		t.Fatalf("%d records, want %d", len(got), len(want))
	}
	for i, w := range want {
		if got[i].Topic != w.Topic || !bytes.Equal(got[i].Key, w.Key) || !bytes.Equal(got[i].Value, w.Value) {
			t.Errorf("line %d: got %v %q %q, want %v %q %q", i+1, got[i].Topic, got[i].Key, got[i].Value, w.Topic, w.Key, w.Value)
		}
	}
	if e, r := event.Decode(got[1].Topic, got[1].Value); r != event.OK || e.OrderID != "9001/A" {
		t.Errorf("decoded %+v, %q", e, r)
	}
}

func TestKcatTopicNames(t *testing.T) {
	line := []byte(`{"topic":"shop.chat","partition":0,"offset":0,"key":"k","payload":"v"}`)
	if _, err := Parse(line); err == nil || !strings.Contains(err.Error(), `"shop.chat"`) || !strings.Contains(err.Error(), `"cs.messages"`) {
		t.Errorf("default names: err %v", err)
	}
	r, err := Format{Messages: "shop.chat", Orders: "shop.orders"}.Parse(line)
	if err != nil || r.Topic != event.Messages {
		t.Errorf("named: %v %v", r.Topic, err)
	}
}

func TestScanGoesOnAndNumbersLines(t *testing.T) {
	type seen struct {
		n   int
		err bool
	}
	var got []seen
	in := "{\"sender\":\"buyer\"}\n\nbad\n{\"type\":\"order_paid\"}\n"
	err := Format{}.Scan(strings.NewReader(in), func(n int, _ Record, err error) error {
		got = append(got, seen{n, err != nil})
		return nil
	})
	if want := []seen{{1, false}, {3, true}, {4, false}}; err != nil || !slices.Equal(got, want) {
		t.Errorf("got %v, %v; want %v", got, err, want)
	}
	long := strings.Repeat("x", MaxLine+1)
	err = Format{}.Scan(strings.NewReader("{}\n"+long+"\n"), func(int, Record, error) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("an over-long line: %v", err)
	}
}

func TestUnquoteMatchesEncodingJSONOnUTF8(t *testing.T) {
	for _, s := range []string{``, `a`, `\"\\\/\b\f\n\r\t`, `\u00e9\u4e2d`, `\ud83d\ude00`, `\ud800`, `\udc00x`, `\ud800\u0041`, `\ud83d\ud83d\ude00`, `好`} {
		t.Run(s, func(t *testing.T) {
			q := []byte(`"` + s + `"`)
			var want string
			if err := json.Unmarshal(q, &want); err != nil {
				t.Fatal(err)
			}
			got, ok := unquote(q)
			if !ok || string(got) != want {
				t.Errorf("unquote(%s) = %q, %v; encoding/json %q", q, got, ok, want)
			}
		})
	}
	for _, bad := range []string{``, `"`, `"\"`, `"\x"`, `"\u12"`, `"\u12g4"`, `5`, `null`} {
		if _, ok := unquote([]byte(bad)); ok {
			t.Errorf("unquote(%s) ok", bad)
		}
	}
}

// TestSceneCarried: the format writes no event fields of its own, so scene (CONTRACT §1)
// reaches the decoder as the line has it, through an event line, a raw line and a kcat
// envelope alike: a buyer's aftersale reads as such, an agent's scene is ignored.
func TestSceneCarried(t *testing.T) {
	for _, tc := range []struct {
		value string
		scene event.Scene
	}{
		{`{"event_id":"m-1","shop_id":"s","buyer_id":"b","sender":"buyer","scene":"aftersale","ts":"2026-11-20T10:00:00Z"}`, event.Aftersale},
		{`{"event_id":"m-1","shop_id":"s","buyer_id":"b","sender":"buyer","sc\u0065ne":"\u0061ftersale","ts":"2026-11-20T10:00:00Z"}`, event.Aftersale},
		{`{"event_id":"m-2","shop_id":"s","buyer_id":"b","sender":"buyer","scene":"presale","ts":"2026-11-20T10:00:00Z"}`, event.Presale},
		{`{"event_id":"m-3","shop_id":"s","buyer_id":"b","sender":"buyer","ts":"2026-11-20T10:00:00Z"}`, event.Presale},
		{`{"event_id":"m-4","shop_id":"s","buyer_id":"b","sender":"agent","agent_id":"s:a","scene":"aftersale","ts":"2026-11-20T10:00:00Z"}`, event.Presale},
	} {
		for _, line := range [][]byte{
			[]byte(tc.value),
			Raw(event.Messages, "s/b", []byte(tc.value)),
			Envelope(DefaultMessagesTopic, []byte("s/b"), []byte(tc.value)),
		} {
			r, err := Parse(line)
			if err != nil || r.Topic != event.Messages || string(r.Value) != tc.value {
				t.Fatalf("%s: %v %v %q", line, err, r.Topic, r.Value)
			}
			if e, reason := event.Decode(r.Topic, r.Value); reason != event.OK || e.Scene != tc.scene {
				t.Errorf("%s: decoded %v %q, want scene %v", line, e.Scene, reason, tc.scene)
			}
		}
	}
}
