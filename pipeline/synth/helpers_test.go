package synth

import (
	"testing"
	"time"

	"github.com/cskpi/cskpi/pipeline/event"
	"github.com/cskpi/cskpi/pipeline/jsonl"
)

// outcome is what a consumer reading the file in order decides for one line.
type outcome struct {
	rec    jsonl.Record
	ev     event.Event
	reason event.Reason
	dup    bool
	spam   bool
}

func (o outcome) applied() bool { return o.reason == event.OK && !o.dup && !o.spam }

// consume plays the file the way the reference does: one stream time for the whole file,
// duplicates remembered for an hour of it.
func consume(t testing.TB, lines [][]byte, wall time.Time) []outcome {
	t.Helper()
	type seenKey struct {
		topic event.Topic
		id    string
	}
	seen := map[seenKey]int64{}
	var stream int64
	have := false
	out := make([]outcome, 0, len(lines))
	for i, line := range lines {
		rec, err := jsonl.Parse(line)
		if err != nil {
			t.Fatalf("line %d does not parse: %v\n%s", i, err, line)
		}
		o := outcome{rec: rec}
		o.ev, o.reason = event.Decode(rec.Topic, rec.Value)
		if o.reason == event.OK {
			k := seenKey{rec.Topic, o.ev.ID}
			if ts, ok := seen[k]; ok && stream <= ts+int64(time.Hour) {
				o.dup = true
			} else if o.ev.Spam {
				o.spam = true
				seen[k] = o.ev.TS
			} else if o.reason = o.ev.CheckTime(stream, have, wall.UnixNano()); o.reason == event.OK {
				seen[k] = o.ev.TS
				stream = max(stream, o.ev.TS)
				have = true
			}
		}
		out = append(out, o)
	}
	return out
}

func reasons(outs []outcome) map[event.Reason]int {
	m := map[event.Reason]int{}
	for _, o := range outs {
		if o.reason != event.OK {
			m[o.reason]++
		}
	}
	return m
}

// checkConversationOrder fails when an applied message goes back in ts within its conversation.
func checkConversationOrder(t *testing.T, outs []outcome) {
	t.Helper()
	last := map[string]int64{}
	for i, o := range outs {
		if !o.applied() || o.ev.Topic != event.Messages {
			continue
		}
		k := o.ev.Conversation()
		if prev, ok := last[k]; ok && o.ev.TS < prev {
			t.Fatalf("line %d: conversation %s goes back from %d to %d", i, k, prev, o.ev.TS)
		}
		last[k] = o.ev.TS
	}
}
