package sinks

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/cskpi/cskpi/windows/shops"
)

// TestShopCollector: every shop of the directory with its name and team, whether it is open
// at the as-of time, and both response targets: the pre-sale one (response_target) and the
// after-sale one (aftersale_response_target), each its default when the file gives none.
func TestShopCollector(t *testing.T) {
	h := directory(t, `
shops:
  s-set: {name: Set, team: east, response_target: 20s, aftersale_response_target: 5m}
  s-default:
    name: Defaults
    team: west
    business_hours: {tue: ["08:00-18:00"]}
`)
	c := NewShopCollector(h, func() int64 { return testAsOf }) // a Monday: s-default is closed
	want := `
# HELP cskpi_shop_aftersale_response_target_seconds The shop's after-sale response-time target (aftersale_response_target, default 3 min).
# TYPE cskpi_shop_aftersale_response_target_seconds gauge
cskpi_shop_aftersale_response_target_seconds{shop="s-default"} 180
cskpi_shop_aftersale_response_target_seconds{shop="s-set"} 300
# HELP cskpi_shop_info A shop of the directory, with its name and team (for routing); always 1.
# TYPE cskpi_shop_info gauge
cskpi_shop_info{name="Defaults",shop="s-default",team="west"} 1
cskpi_shop_info{name="Set",shop="s-set",team="east"} 1
# HELP cskpi_shop_open 1 while the shop is open at the as-of time (business hours, closed dates), else 0.
# TYPE cskpi_shop_open gauge
cskpi_shop_open{shop="s-default"} 0
cskpi_shop_open{shop="s-set"} 1
# HELP cskpi_shop_response_target_seconds The shop's pre-sale response-time target (response_target, default 15 s).
# TYPE cskpi_shop_response_target_seconds gauge
cskpi_shop_response_target_seconds{shop="s-default"} 15
cskpi_shop_response_target_seconds{shop="s-set"} 20
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(NewShopCollector(&shops.Holder{}, func() int64 { return testAsOf })); n != 0 {
		t.Errorf("%d series without a directory, want none", n)
	}
}
