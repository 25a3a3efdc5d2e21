package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

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
