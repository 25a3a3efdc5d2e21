package kpi

import (
	"strings"
	"testing"
	"time"
)

// TestTableFollowsNamingConventions: the table is the one definition of each family, so it
// is checked against Prometheus' naming conventions instead of deriving units from names.
func TestTableFollowsNamingConventions(t *testing.T) {
	seen := map[string]bool{}
	for id, f := range Families() {
		t.Run(f.Name, func(t *testing.T) {
			if f.ID != ID(id) {
				t.Errorf("row %d carries ID %d", id, f.ID)
			}
			if seen[f.Name] || !strings.HasPrefix(f.Name, "cskpi_") || f.Help == "" {
				t.Errorf("name %q (duplicate %v) or help %q", f.Name, seen[f.Name], f.Help)
			}
			seen[f.Name] = true
			switch {
			case strings.HasSuffix(f.Name, "_seconds_sum") || strings.HasSuffix(f.Name, "_seconds"):
				if f.Unit != Millis {
					t.Errorf("a _seconds family must be kept in milliseconds")
				}
			case strings.HasSuffix(f.Name, "_yuan"):
				if f.Unit != Fen {
					t.Errorf("a _yuan family must be kept in fen")
				}
			default:
				if f.Unit != Count {
					t.Errorf("unit %d for a count", f.Unit)
				}
			}
			gauge := f.Kind == Gauge || f.Kind == PerWaitThreshold
			if gauge != (len(f.Windows) == 0) || gauge != (f.Level == ShopOnly || f.Level == AgentOnly) {
				t.Errorf("kind %d, level %d, windows %v: a gauge has no window and a level without one", f.Kind, f.Level, f.Windows)
			}
			if f.Kind == Shortfall {
				b := f.Base.Family()
				if b.Kind != Counter || b.Level != f.Level || b.Unit != f.Unit || strings.Join(b.Windows, ",") != strings.Join(f.Windows, ",") {
					t.Errorf("shortfall of %s: base must be a counter of the same level, unit and windows", b.Name)
				}
			}
			if f.Le() && f.Level != ShopWindow {
				t.Errorf("a per-threshold family must be shop-level")
			}
			if got := f.ID.Name(); got != f.Name {
				t.Errorf("ID.Name() = %q", got)
			}
		})
	}
}

// TestWindowsAreTheContracts: the window table is CONTRACT §2's ("15m is the minute holding
// A and the 14 before it, 24h that minute and the 1 439 before, 28d the hour holding A and
// the 671 before"), and every family names windows of it, in its order.
func TestWindowsAreTheContracts(t *testing.T) {
	want := [...]Window{{"15m", time.Minute, 15}, {"24h", time.Minute, 1440}, {"28d", time.Hour, 672}}
	if got := Windows(); got != want {
		t.Errorf("Windows() = %v, want %v", got, want)
	}
	for i, w := range Windows() {
		if j, ok := WindowIndex(w.Name); !ok || j != i {
			t.Errorf("WindowIndex(%q) = %d, %v, want %d", w.Name, j, ok, i)
		}
	}
	for _, name := range []string{"", "1h", "28D", "7d"} {
		if i, ok := WindowIndex(name); ok {
			t.Errorf("WindowIndex(%q) = %d: an unknown window must not resolve", name, i)
		}
	}
	for _, f := range Families() {
		last := -1
		for _, name := range f.Windows {
			i, ok := WindowIndex(name)
			if !ok || i <= last {
				t.Errorf("%s: window %q is not in the table, or out of its order (%v)", f.Name, name, f.Windows)
			}
			last = i
		}
	}
}

// TestSceneLabel: the families of CONTRACT §3 with the scene label are these, and a sum kept
// as its shortfall has its base's scenes (the layout subtracts scene by scene).
func TestSceneLabel(t *testing.T) {
	var got []string
	for _, f := range Families() {
		if f.Scene {
			got = append(got, f.Name)
		}
		if f.Kind == Shortfall && f.Scene != f.Base.Family().Scene {
			t.Errorf("%s has scene %v, its base %s %v", f.Name, f.Scene, f.Base, f.Base.Family().Scene)
		}
		if f.Scene && f.Level != ShopWindow && f.Level != ShopOnly {
			t.Errorf("%s: the scene label is on shop families only", f.Name)
		}
	}
	want := []string{"cskpi_buyer_messages", "cskpi_buyer_messages_replied_24h", "cskpi_responses",
		"cskpi_response_time_seconds_sum", "cskpi_responses_within", "cskpi_waiting_conversations",
		"cskpi_waiting_oldest_seconds", "cskpi_response_business_time_seconds_sum",
		"cskpi_waiting_conversations_over", "cskpi_buyer_messages_replied_48h"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("families with scene:\n%v\nwant\n%v", got, want)
	}
}
