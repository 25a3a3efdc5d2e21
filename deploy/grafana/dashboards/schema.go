package dashboards

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sync"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// registerPlugins lets the SDK decode panel options, field config and queries into the
// types of their panel and data-source plugins rather than into maps.
var registerPlugins = sync.OnceFunc(plugins.RegisterDefaultPlugins)

// Validate checks a dashboard's JSON against the dashboard schema of the Grafana Foundation
// SDK in go.mod. The SDK's Go module ships no JSON schema; its generated types are the
// schema (Grafana's CUE kinds, through cog), and it checks them three ways, all applied:
//
//   - strict decoding: no unknown field, no field of the wrong type, no required field
//     missing or null, in the dashboard, its panels, their options and field config (by
//     panel type) and their queries (by data source type);
//   - the types' own constraints (Validate);
//   - a round trip: decoded into the SDK's types and encoded again, the JSON means the same
//     (as a JSON value; key order aside). This catches what strict decoding lets through,
//     such as an unknown key inside fieldConfig, which the SDK decodes leniently.
func Validate(data []byte) error {
	registerPlugins()
	var strict dashboard.Dashboard
	if err := buildErrors(strict.UnmarshalJSONStrict(data)); err != nil {
		return fmt.Errorf("strict decoding: %w", err)
	}
	// The strict decoder reports faults but, in SDK v0.0.22, drops every panel it decoded
	// without one: its error-free result is a nil cog.BuildErrors in a non-nil error, which
	// the panel list reads as a failure. The lenient decoder keeps them.
	var d dashboard.Dashboard
	if err := json.Unmarshal(data, &d); err != nil {
		return fmt.Errorf("decoding: %w", err)
	}
	if err := buildErrors(d.Validate()); err != nil {
		return fmt.Errorf("constraints: %w", err)
	}
	again, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("encoding: %w", err)
	}
	var before, after any
	if err := json.Unmarshal(data, &before); err != nil {
		return err
	}
	if err := json.Unmarshal(again, &after); err != nil {
		return err
	}
	if path, diff := firstDifference("", before, after); diff != "" {
		return fmt.Errorf("round trip through the SDK's types changes %s: %s", path, diff)
	}
	return nil
}

// buildErrors is err, or nil for the SDK's "no errors": an empty cog.BuildErrors.
func buildErrors(err error) error {
	var be cog.BuildErrors
	if errors.As(err, &be) && len(be) == 0 {
		return nil
	}
	return err
}

// firstDifference finds where two decoded JSON values differ, for a readable message.
func firstDifference(path string, a, b any) (string, string) {
	switch a := a.(type) {
	case map[string]any:
		bm, ok := b.(map[string]any)
		if !ok {
			return path, fmt.Sprintf("object became %T", b)
		}
		for k, av := range a {
			bv, ok := bm[k]
			if !ok {
				return path + "." + k, "dropped"
			}
			if p, d := firstDifference(path+"."+k, av, bv); d != "" {
				return p, d
			}
		}
		for k := range bm {
			if _, ok := a[k]; !ok {
				return path + "." + k, "added"
			}
		}
		return "", ""
	case []any:
		bs, ok := b.([]any)
		if !ok || len(a) != len(bs) {
			return path, fmt.Sprintf("array of %d became %v", len(a), summary(b))
		}
		for i := range a {
			if p, d := firstDifference(fmt.Sprintf("%s[%d]", path, i), a[i], bs[i]); d != "" {
				return p, d
			}
		}
		return "", ""
	}
	if !reflect.DeepEqual(a, b) {
		return path, fmt.Sprintf("%v became %v", a, b)
	}
	return "", ""
}

func summary(v any) string {
	if s, ok := v.([]any); ok {
		return fmt.Sprintf("array of %d", len(s))
	}
	return fmt.Sprintf("%T", v)
}
