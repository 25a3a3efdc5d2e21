package main

import (
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"
)

// envPrefix is what kingpin's DefaultEnvars prepends: --kafka.brokers <=> CSKPI_KAFKA_BROKERS.
const envPrefix = "CSKPI_"

// named wraps a flag's value so that a bad value names its flag: kingpin reports only the
// value's own error ("enum value must be one of wall,event, got 'bogus'"), which leaves a
// newcomer with a long command line or a compose file of CSKPI_* variables guessing which
// setting it was.
type named struct {
	kingpin.Value
	flag string
}

func (n named) Set(s string) error {
	err := n.Value.Set(s)
	if err == nil {
		return nil
	}
	where := "--" + n.flag
	// kingpin reads the environment only for flags absent from the command line, and then
	// with the same Set; a value equal to the variable's most likely came from it.
	if env := envName(n.flag); os.Getenv(env) == s && s != "" {
		where += " (from " + env + ")"
	}
	return fmt.Errorf("%s: %w", where, tidy(err))
}

// IsBoolFlag keeps --flag / --no-flag working for the booleans named wraps.
func (n named) IsBoolFlag() bool {
	b, ok := n.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// envName is the environment variable kingpin's DefaultEnvars gives a flag.
func envName(flag string) string {
	return envPrefix + strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' {
			return r - 'a' + 'A'
		}
		if r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, flag)
}

// tidy turns the parsers' errors into what a person can act on: "not a number: "x""
// rather than `strconv.ParseInt: parsing "x": invalid syntax`.
func tidy(err error) error {
	var ne *strconv.NumError
	if errors.As(err, &ne) {
		switch {
		case errors.Is(ne.Err, strconv.ErrRange):
			return fmt.Errorf("out of range: %q", ne.Num)
		case ne.Func == "ParseBool":
			return fmt.Errorf("not true or false: %q", ne.Num)
		}
		return fmt.Errorf("not a number: %q", ne.Num)
	}
	if s, ok := strings.CutPrefix(err.Error(), "time: "); ok { // time.ParseDuration
		return errors.New(s)
	}
	return err
}

// nameFlags wraps the value of every flag of app and of the given commands in named. It runs
// once all flags are declared, so that declaring a flag stays the plain kingpin call.
func nameFlags(app *kingpin.Application, cmds ...*kingpin.CmdClause) {
	for _, fm := range app.Model().Flags {
		app.GetFlag(fm.Name).SetValue(named{fm.Value, fm.Name})
	}
	for _, c := range cmds {
		for _, fm := range c.Model().Flags {
			c.GetFlag(fm.Name).SetValue(named{fm.Value, fm.Name})
		}
	}
}

// enum is a string flag with a closed set of values; unlike kingpin's it quotes the value
// it refuses the way the rest of cskpi quotes values.
type enum struct {
	dst     *string
	allowed []string
}

func enumVar(f *kingpin.FlagClause, dst *string, allowed ...string) {
	f.SetValue(&enum{dst: dst, allowed: allowed})
}

func (e *enum) Set(s string) error {
	for _, a := range e.allowed {
		if s == a {
			*e.dst = s
			return nil
		}
	}
	return fmt.Errorf("must be one of %s, got %q", strings.Join(e.allowed, ","), s)
}

func (e *enum) String() string { return *e.dst }

// The value types below give each numeric, duration, list and enum flag its valid range.
// kingpin sets a flag's value the same way from the command line, from its CSKPI_*
// variable and from its default, so a value out of range is refused whichever way it came,
// by the parser, named (named) and with exit status 2, before anything starts. The
// messages leave the flag's name to named.

// bounded is a number within [lo, hi]; hasHi false means no upper bound.
type bounded[T int | int64 | float64 | time.Duration] struct {
	dst    *T
	lo, hi T
	hasHi  bool
	parse  func(string) (T, error)
	format func(T) string
}

func (b *bounded[T]) Set(s string) error {
	v, err := b.parse(s)
	if err != nil {
		return err
	}
	// Written so that NaN, which no comparison holds for, is out of range too.
	if !(v >= b.lo) || b.hasHi && !(v <= b.hi) {
		return b.outOfRange(s)
	}
	*b.dst = v
	return nil
}

func (b *bounded[T]) outOfRange(s string) error {
	if b.hasHi {
		return fmt.Errorf("must be from %s to %s, got %q", b.format(b.lo), b.format(b.hi), s)
	}
	return fmt.Errorf("must be %s or more, got %q", b.format(b.lo), s)
}

func (b *bounded[T]) String() string { return b.format(*b.dst) }

// intVar is an int flag of at least lo, and at most hi unless hi is noMax.
func intVar(f *kingpin.FlagClause, dst *int, lo, hi int) {
	f.SetValue(&bounded[int]{dst: dst, lo: lo, hi: hi, hasHi: hi != noMax, format: strconv.Itoa,
		parse: func(s string) (int, error) {
			n, err := strconv.ParseInt(s, 0, strconv.IntSize)
			return int(n), err
		}})
}

// noMax is intVar's hi for no upper bound.
const noMax = math.MaxInt

func floatVar(f *kingpin.FlagClause, dst *float64, lo, hi float64) {
	f.SetValue(&bounded[float64]{dst: dst, lo: lo, hi: hi, hasHi: true,
		format: func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) },
		parse:  func(s string) (float64, error) { return strconv.ParseFloat(s, 64) }})
}

func durationVar(f *kingpin.FlagClause, dst *time.Duration, lo, hi time.Duration) {
	f.SetValue(&bounded[time.Duration]{dst: dst, lo: lo, hi: hi, hasHi: hi > 0, format: shortDuration,
		parse: time.ParseDuration})
}

// shortDuration writes 30m and 48h rather than time.Duration's 30m0s and 48h0m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if t, ok := strings.CutSuffix(s, "m0s"); ok {
		s = t + "m"
	}
	if t, ok := strings.CutSuffix(s, "h0m"); ok {
		s = t + "h"
	}
	return s
}

// maxThreshold is the largest response or waiting threshold: a response is sampled only
// within 48 h of the episode's start, and a buyer left waiting longer is gone (CONTRACT §2),
// so a larger threshold would only repeat the count of all.
const maxThreshold = 48 * time.Hour

// thresholds is a comma separated list of durations of whole seconds from 1s to
// maxThreshold, ascending, at least one; dst gets them in milliseconds. label is the label
// that shows them (le, seconds), in whole seconds.
type thresholds struct {
	dst   *[]int64
	label string
	text  string
}

func thresholdsVar(f *kingpin.FlagClause, dst *[]int64, label string) {
	f.SetValue(&thresholds{dst: dst, label: label})
}

func (t *thresholds) Set(s string) error {
	var out []int64
	prev := ""
	for _, p := range splitList(s) {
		d, err := time.ParseDuration(p)
		if err != nil {
			return err
		}
		if d%time.Second != 0 {
			var near []string // the whole seconds either side, where in range
			for _, w := range []time.Duration{d.Truncate(time.Second), d.Truncate(time.Second) + time.Second} {
				if w >= time.Second && w <= maxThreshold {
					near = append(near, shortDuration(w))
				}
			}
			return fmt.Errorf("%s is not a whole number of seconds (the %s label is whole seconds): use %s",
				p, t.label, strings.Join(near, " or "))
		}
		if d < time.Second || d > maxThreshold {
			return fmt.Errorf("%s is out of range: each threshold must be from 1s to %s", p, shortDuration(maxThreshold))
		}
		if ms := d.Milliseconds(); len(out) > 0 && ms <= out[len(out)-1] {
			return fmt.Errorf("%s after %s: the thresholds must be ascending and distinct", p, prev)
		}
		out, prev = append(out, d.Milliseconds()), p
	}
	if len(out) == 0 {
		return fmt.Errorf("no threshold in %q: give at least one, such as 15s,3m", s)
	}
	*t.dst, t.text = out, s
	return nil
}

func (t *thresholds) String() string { return t.text }

// zone is an IANA time zone (the binary embeds the database: time/tzdata).
type zone struct{ dst **time.Location }

func zoneVar(f *kingpin.FlagClause, dst **time.Location) { f.SetValue(&zone{dst}) }

func (z *zone) Set(s string) error {
	if s == "" { // time.LoadLocation would take it for UTC
		return errors.New("empty: give an IANA time zone such as Asia/Shanghai, or UTC")
	}
	loc, err := time.LoadLocation(s)
	if err != nil {
		return fmt.Errorf("unknown time zone %q: give an IANA time zone such as Asia/Shanghai, or UTC", s)
	}
	*z.dst = loc
	return nil
}

func (z *zone) String() string {
	if *z.dst == nil {
		return ""
	}
	return (*z.dst).String()
}

// timestamp is an RFC 3339 time; a flag that is not given leaves the zero time.
type timestamp struct{ dst *time.Time }

func timeVar(f *kingpin.FlagClause, dst *time.Time) { f.SetValue(&timestamp{dst}) }

func (t *timestamp) Set(s string) error {
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return fmt.Errorf("not an RFC 3339 time such as 2026-11-21T08:00:00+08:00: %q", s)
	}
	*t.dst = v
	return nil
}

func (t *timestamp) String() string {
	if t.dst.IsZero() {
		return ""
	}
	return t.dst.Format(time.RFC3339Nano)
}

// addresses is a comma separated list of host:port addresses, at least one; an empty
// host is this machine's.
type addresses struct {
	dst  *[]string
	text string
}

func addressesVar(f *kingpin.FlagClause, dst *[]string) { f.SetValue(&addresses{dst: dst}) }

func (a *addresses) Set(s string) error {
	list := splitList(s)
	if len(list) == 0 {
		return fmt.Errorf("no address in %q: give host:port, several comma separated", s)
	}
	for _, addr := range list {
		if err := checkAddress(addr, 1); err != nil {
			return err
		}
	}
	*a.dst, a.text = list, s
	return nil
}

func (a *addresses) String() string { return a.text }

// listenAddress is host:port to listen at; port 0 is any free port. orEmpty allows "".
type listenAddress struct {
	dst     *string
	orEmpty bool
}

func listenVar(f *kingpin.FlagClause, dst *string, orEmpty bool) {
	f.SetValue(&listenAddress{dst, orEmpty})
}

func (l *listenAddress) Set(s string) error {
	if s != "" || !l.orEmpty {
		if err := checkAddress(s, 0); err != nil {
			return err
		}
	}
	*l.dst = s
	return nil
}

func (l *listenAddress) String() string { return *l.dst }

// checkAddress checks that addr is host:port with a port number from minPort to 65535.
func checkAddress(addr string, minPort int) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not host:port", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < minPort || n > 65535 {
		return fmt.Errorf("%q: the port must be a number from %d to 65535", addr, minPort)
	}
	return nil
}

// topic is a Kafka topic name: 1 to 249 of a-z A-Z 0-9 . _ -, not "." or "..", as the
// brokers accept; orEmpty allows "" (none).
type topic struct {
	dst     *string
	orEmpty bool
}

func topicVar(f *kingpin.FlagClause, dst *string, orEmpty bool) { f.SetValue(&topic{dst, orEmpty}) }

func (t *topic) Set(s string) error {
	if s == "" && t.orEmpty {
		*t.dst = s
		return nil
	}
	if s == "" || s == "." || s == ".." || len(s) > 249 {
		return fmt.Errorf("%q is not a Kafka topic name (1 to 249 characters, not . or ..)", s)
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return fmt.Errorf("%q is not a Kafka topic name: %q is none of a-z A-Z 0-9 . _ -", s, r)
		}
	}
	*t.dst = s
	return nil
}

func (t *topic) String() string { return *t.dst }

// text is a string flag that must not be empty, and must not hold any of the runes of
// refuse (why says what they would break).
type text struct {
	dst         *string
	refuse, why string
}

func textVar(f *kingpin.FlagClause, dst *string, refuse, why string) {
	f.SetValue(&text{dst, refuse, why})
}

func (t *text) Set(s string) error {
	if s == "" {
		return errors.New("empty")
	}
	if i := strings.IndexAny(s, t.refuse); i >= 0 {
		return fmt.Errorf("%q holds %q, %s", s, s[i], t.why)
	}
	*t.dst = s
	return nil
}

func (t *text) String() string { return *t.dst }
