package testlog

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/cskpi/cskpi/event"
	"github.com/cskpi/cskpi/event/jsonl"
)

// Outcome is what a consumer reading the file in order decides for one line.
type Outcome struct {
	Rec    jsonl.Record
	Ev     event.Event
	Reason event.Reason
	Dup    bool
	Spam   bool
}

// Applied says the line is applied.
func (o Outcome) Applied() bool { return o.Reason == event.OK && !o.Dup && !o.Spam }

// Consume plays the file the way the reference does: one stream time for the whole file,
// an id remembered until it passes max(ts, stream time at acceptance) by an hour. The
// generators' tests check their logs' properties with it.
func Consume(t testing.TB, lines [][]byte, wall time.Time) []Outcome {
	t.Helper()
	type seenKey struct {
		topic event.Topic
		id    string
	}
	seen := map[seenKey]int64{}
	var stream int64
	have := false
	out := make([]Outcome, 0, len(lines))
	for i, line := range lines {
		rec, err := jsonl.Parse(line)
		if err != nil {
			t.Fatalf("line %d does not parse: %v\n%s", i, err, line)
		}
		o := Outcome{Rec: rec}
		o.Ev, o.Reason = event.Decode(rec.Topic, rec.Value)
		if o.Reason == event.OK {
			k := seenKey{rec.Topic, o.Ev.ID}
			anchor := o.Ev.TS
			if have {
				anchor = max(anchor, stream)
			}
			if a, ok := seen[k]; ok && stream <= a+int64(time.Hour) {
				o.Dup = true
			} else if o.Ev.Spam {
				o.Spam = true
				seen[k] = anchor
			} else if o.Reason = o.Ev.CheckTime(stream, have, wall.UnixNano()); o.Reason == event.OK {
				seen[k] = anchor
				stream = max(stream, o.Ev.TS)
				have = true
			}
		}
		out = append(out, o)
	}
	return out
}

// Reasons counts the rejected lines by reason.
func Reasons(outs []Outcome) map[event.Reason]int {
	m := map[event.Reason]int{}
	for _, o := range outs {
		if o.Reason != event.OK {
			m[o.Reason]++
		}
	}
	return m
}

// CheckConversationOrder fails when an applied message goes back in ts within its
// conversation (CONTRACT §1 orders a conversation's messages).
func CheckConversationOrder(t testing.TB, outs []Outcome) {
	t.Helper()
	last := map[string]int64{}
	for i, o := range outs {
		if !o.Applied() || o.Ev.Topic != event.Messages {
			continue
		}
		k := o.Ev.Conversation()
		if prev, ok := last[k]; ok && o.Ev.TS < prev {
			t.Fatalf("line %d: conversation %s goes back from %d to %d", i, k, prev, o.Ev.TS)
		}
		last[k] = o.Ev.TS
	}
}

// RawScene is the scene field of a record value as written, read apart from event.Decode:
// its JSON text (`"aftersale"`, `null`, `1`) and whether the value has one. CONTRACT §1 reads
// it on buyer messages only; the logs also put it elsewhere, where it must be ignored.
func RawScene(value []byte) (string, bool) {
	var v struct {
		Scene json.RawMessage `json:"scene"`
	}
	if json.Unmarshal(value, &v) != nil || len(v.Scene) == 0 {
		return "", false
	}
	return string(v.Scene), true
}
