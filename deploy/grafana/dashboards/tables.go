package dashboards

import (
	"fmt"
	"strings"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/table"
)

// worstN is how many entities each ranking of a "worst now" table contributes: a table
// shows at most this many per ranking, whether 6 shops or 500 are selected.
const worstN = 10

// column is one column of a table panel: an instant query whose value fills the cells.
type column struct {
	name, unit string
	expr       string
	props      []dashboard.DynamicConfigValue // thresholds, cell colours, mappings
}

// keyed keeps of expr's labels only the keys, so that the columns' frames join on them:
// Grafana's merge joins rows on the fields every frame has and keeps rows apart whose other
// fields differ (a window label of 15m in one column and 24h in another would split a shop
// in two). Each key set selects one series, so max changes no value.
func keyed(keys []string, expr string) string {
	return "max by (" + strings.Join(keys, ", ") + ") (" + expr + ")"
}

// ranked restricts expr to the entities (by keys) of the ranking set.
func ranked(keys []string, expr, set string) string {
	return keyed(keys, "("+expr+") and on ("+strings.Join(keys, ", ")+") ("+set+")")
}

// topk and bottomk are PromQL's, for worstN.
func topk(expr string) string    { return fmt.Sprintf("topk(%d, %s)", worstN, expr) }
func bottomk(expr string) string { return fmt.Sprintf("bottomk(%d, %s)", worstN, expr) }

// union is the entities of any of the rankings.
func union(rankings ...string) string { return strings.Join(rankings, "\nor ") }

// tablePanel is one row per key set (shop, or shop and agent) with a column per query,
// sorted by the column sortBy, highest first.
func tablePanel(title, description string, keys []string, cols []column, sortBy string, height uint32) *table.PanelBuilder {
	var qs []*prometheus.DataqueryBuilder
	rename := map[string]string{}
	index := map[string]int{}
	for i, k := range keys {
		index[k] = i
	}
	tbl := table.NewPanelBuilder().
		Title(title).
		Description(description).
		Datasource(datasource()).
		Height(height).
		Span(fullW).
		// The SDK's default footer has a null reducer, which its own schema rejects.
		Footer(common.NewTableFooterOptionsBuilder().Reducer([]string{})).
		SortBy([]cog.Builder[common.TableSortByFieldState]{
			common.NewTableSortByFieldStateBuilder().DisplayName(sortBy).Desc(true),
		})
	for i, c := range cols {
		// Instant table queries come back as one frame per query with the value in
		// "Value #<ref>"; merge joins them on the keys, organize names the columns.
		qs = append(qs, query(c.expr, "").Format(prometheus.PromQueryFormatTable).Instant())
		ref := fmt.Sprintf("Value #%c", 'A'+i)
		rename[ref] = c.name
		index[ref] = len(keys) + i
		tbl.OverrideByName(c.name, append([]dashboard.DynamicConfigValue{{Id: "unit", Value: c.unit}}, c.props...))
	}
	return tbl.Targets(targets(qs)).
		WithTransformation(dashboard.DataTransformerConfig{Id: "merge", Options: map[string]any{}}).
		WithTransformation(dashboard.DataTransformerConfig{Id: "organize", Options: map[string]any{
			"excludeByName": map[string]bool{"Time": true},
			"indexByName":   index,
			"renameByName":  rename,
		}})
}

// colored colours a column's cells by thresholds.
func colored(t dashboard.ThresholdsConfig) []dashboard.DynamicConfigValue {
	return []dashboard.DynamicConfigValue{
		{Id: "thresholds", Value: t},
		{Id: "custom.cellOptions", Value: map[string]any{"type": "color-background", "mode": "basic"}},
	}
}

// share shows a 0..1 column as a bar, red to green, for a score that has no target.
func share() []dashboard.DynamicConfigValue {
	return []dashboard.DynamicConfigValue{
		{Id: "min", Value: 0},
		{Id: "max", Value: 1},
		{Id: "color", Value: map[string]any{"mode": "continuous-RdYlGr"}},
		{Id: "custom.cellOptions", Value: map[string]any{"type": "gauge", "mode": "basic"}},
	}
}
