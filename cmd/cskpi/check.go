package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cskpi/cskpi/event"
	"github.com/cskpi/cskpi/event/jsonl"
	"github.com/cskpi/cskpi/windows/reference"
)

const (
	// checkExamples is how many offending lines check shows per reason: enough to see a
	// pattern, few enough that a file with thousands of them stays readable.
	checkExamples = 5
	// excerptBytes is how much of a record an example shows: a whole event of the usual
	// size, since the field at fault can be anywhere in it.
	excerptBytes = 200
)

// checkStatus is check's exit status: 1 when a record would be rejected, 2 when a line is not
// a record at all (produce and recompute refuse such a file), as `promtool check` does.
type checkStatus int

func (s checkStatus) Error() string { return "exit status " + strconv.Itoa(int(s)) }

// checkReport is what check learnt of one file.
type checkReport struct {
	records  int
	events   map[[2]string]int // (topic role, outcome)
	rejected map[[2]string]int // (topic role, reason)
	// examples: the first lines of each reason, or of "duplicate", or of "" (not records).
	examples map[string][]string
	counts   map[string]int // the same keys: how many lines in all
	bad      int            // lines that are not records
}

func (r *checkReport) example(key, text string) {
	r.counts[key]++
	if len(r.examples[key]) < checkExamples {
		r.examples[key] = append(r.examples[key], text)
	}
}

// checkFile gives every record of an event file its outcome with the reference's rules,
// the ones recompute applies and serve agrees with (CONTRACT §1).
func checkFile(in io.Reader, format jsonl.Format, now time.Time) (*checkReport, error) {
	judge, err := reference.NewJudge(reference.Options{Now: now})
	if err != nil {
		return nil, err
	}
	rep := &checkReport{events: map[[2]string]int{}, rejected: map[[2]string]int{},
		examples: map[string][]string{}, counts: map[string]int{}}
	type idKey struct {
		topic event.Topic
		id    string
	}
	acceptedAt := map[idKey]int{} // the line of the copy a duplicate repeats
	err = format.Scan(in, func(n int, rec jsonl.Record, err error) error {
		if err != nil {
			rep.bad++
			rep.example("", fmt.Sprintf("line %d: %v", n, err))
			return nil
		}
		rep.records++
		outcome, reason, ev := judge.Judge(rec)
		role := rec.Topic.String()
		rep.events[[2]string{role, outcome}]++
		switch outcome {
		case reference.Rejected:
			rep.rejected[[2]string{role, string(reason)}]++
			rep.example(string(reason), fmt.Sprintf("line %d (%s): %s\n      %s", n, role, fault(rec, reason, now), excerpt(rec.Value)))
		case reference.Duplicate:
			rep.example(reference.Duplicate, fmt.Sprintf("line %d (%s): event_id %q accepted at line %d",
				n, role, ev.ID, acceptedAt[idKey{rec.Topic, ev.ID}]))
		default:
			acceptedAt[idKey{rec.Topic, ev.ID}] = n
		}
		return nil
	})
	return rep, err
}

// fault names the field and the value of a rejected record at fault, as the dead-letter
// header cskpi-reject-detail does: "missing_field: agent_id", `invalid_value: scene "refund"
// (want presale or aftersale)`. Only rejected records pay for it: it reads the record again.
func fault(rec jsonl.Record, reason event.Reason, now time.Time) string {
	if reason != event.TooOld && reason != event.Future {
		return event.Explain(rec.Topic, rec.Value).String()
	}
	ev, _ := event.Decode(rec.Topic, rec.Value)
	f := ev.TimeFault(reason)
	if reason == event.Future {
		f.Note += ", " + now.UTC().Format(time.RFC3339) // --now, or when check ran
	}
	return f.String()
}

// excerpt shows a record's value on one line: as it is when it is printable UTF-8, quoted
// otherwise (a record that is not text, or holds a newline), and cut to excerptBytes.
func excerpt(v []byte) string {
	more := ""
	if len(v) > excerptBytes {
		k := excerptBytes
		// Cut before a character the limit would split, rather than show half of it.
		for i := 1; i < utf8.UTFMax && k > 0 && !utf8.RuneStart(v[k]); i++ {
			k--
		}
		v, more = v[:k], "…"
	}
	s := string(v)
	if !printable(s) {
		s = strconv.Quote(s)
	}
	return s + more
}

func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !strconv.IsPrint(r) {
			return false
		}
	}
	return true
}

// print writes the report; name is the file's.
func (r *checkReport) print(w io.Writer, name string) {
	fmt.Fprintf(w, "Checking %s\n", name)
	rows := [][4]string{{"outcome", "messages", "orders", "total"}}
	row := func(label string, m map[[2]string]int, key string) {
		msgs, orders := m[[2]string{"messages", key}], m[[2]string{"orders", key}]
		rows = append(rows, [4]string{label, strconv.Itoa(msgs), strconv.Itoa(orders), strconv.Itoa(msgs + orders)})
	}
	for _, o := range [...]string{reference.Applied, reference.Duplicate, reference.Excluded, reference.Rejected} {
		row(o, r.events, o)
	}
	for _, reason := range event.Reasons {
		if r.counts[string(reason)] > 0 {
			row("  "+string(reason), r.rejected, string(reason))
		}
	}
	var width [4]int
	for _, rw := range rows {
		for i, c := range rw {
			width[i] = max(width[i], len(c))
		}
	}
	for _, rw := range rows { // labels to the left, counts to the right
		fmt.Fprintf(w, "  %-*s  %*s  %*s  %*s\n", width[0], rw[0], width[1], rw[1], width[2], rw[2], width[3], rw[3])
	}
	section := func(title, key string) {
		n := r.counts[key]
		if n == 0 {
			return
		}
		fmt.Fprintf(w, "  %s: %d\n", title, n)
		for _, e := range r.examples[key] {
			fmt.Fprintf(w, "    %s\n", e)
		}
		if more := n - len(r.examples[key]); more > 0 {
			fmt.Fprintf(w, "    … and %d more\n", more)
		}
	}
	section("not a record", "")
	for _, reason := range event.Reasons {
		section("rejected "+string(reason), string(reason))
	}
	section("duplicate", reference.Duplicate)
	rejected := r.events[[2]string{"messages", reference.Rejected}] + r.events[[2]string{"orders", reference.Rejected}]
	var failed []string
	if r.bad > 0 {
		failed = append(failed, plural(r.bad, "line is", "lines are")+" not records (produce and recompute refuse the file)")
	}
	if rejected > 0 {
		failed = append(failed, fmt.Sprintf("%d of %s rejected", rejected, plural(r.records, "record", "records")))
	}
	if failed != nil {
		fmt.Fprintf(w, "  FAILED: %s\n", strings.Join(failed, "; "))
		return
	}
	fmt.Fprintf(w, "  SUCCESS: %s, none rejected\n", plural(r.records, "record", "records"))
}

func (r *checkReport) status() int {
	switch {
	case r.bad > 0:
		return 2
	case len(r.rejected) > 0:
		return 1
	}
	return 0
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// runCheck checks each file and prints one report per file to stdout; its error is a
// checkStatus when a file holds offending lines, a plain error when a file cannot be read.
func runCheck(f *flags, stdout io.Writer) error {
	now := f.now
	if now.IsZero() {
		now = time.Now()
	}
	format := jsonl.Format{Messages: f.topicMsgs, Orders: f.topicOrders}
	status := 0
	for i, name := range f.files {
		in, err := openInput(name)
		if err != nil {
			return usageError{err}
		}
		defer in.Close()
		if name == "" {
			name = "-"
		}
		rep, err := checkFile(in, format, now)
		if err != nil {
			return usageError{fmt.Errorf("%s: %w", name, err)}
		}
		if i > 0 {
			fmt.Fprintln(stdout)
		}
		rep.print(stdout, name)
		status = max(status, rep.status())
	}
	if status != 0 {
		return checkStatus(status)
	}
	return nil
}
