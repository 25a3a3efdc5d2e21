package shops

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// The file's format (docs/SHOPS.md): a mapping with the key shops, of shop ids to shops.
var (
	topFields  = []string{"shops"}
	shopFields = []string{"name", "team", "timezone", "business_hours", "closed", "response_target", "aftersale_response_target"}

	shopIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)
	rangePattern  = regexp.MustCompile(`^([01][0-9]|2[0-3]):([0-5][0-9])-(([01][0-9]|2[0-3]):([0-5][0-9])|24:00)$`)
	weekdays      = map[string]time.Weekday{
		"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
		"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
	}
)

// ParseDirectory is Parse of a file its errors call "shop directory".
func ParseDirectory(data []byte, def *time.Location) (*Directory, error) {
	return Parse("shop directory", data, def)
}

// LoadDirectory reads and parses path; its errors name the file by path.
func LoadDirectory(path string, def *time.Location) (*Directory, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("shop directory: %w", err)
	}
	return Parse(path, data, def)
}

// Parse reads a shop directory. Any error refuses the whole file. The error is the first in
// the file's order, and says where in the file's own words: file (the name the caller
// knows it by), the line, the shop and the key.
//
//	shops.yml: line 5: shop shop-002: unknown field "nmae" (did you mean "name"?)
//
// def is the zone of shops that name none. Anchors, aliases and merge keys (<<) are read as
// YAML has them.
func Parse(file string, data []byte, def *time.Location) (*Directory, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		// "yaml: line 3: did not find expected key": its line is the file's already.
		return nil, fmt.Errorf("%s: %s", file, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	d := &Directory{Shops: map[string]*Shop{}}
	if len(doc.Content) == 0 { // an empty file is an empty directory
		return d, nil
	}
	p := &dirParser{file: file}
	top := deref(doc.Content[0])
	if isNull(top) {
		return d, nil
	}
	if top.Kind != yaml.MappingNode {
		return nil, p.errorf(top, "", "want a mapping with the key shops, got %s", kindOf(top))
	}
	var list *yaml.Node
	for _, kv := range p.pairs(top, "", topFields) {
		list = deref(kv.v) // the one key pairs lets through
	}
	switch {
	case p.err != nil:
		return nil, p.err
	case isNull(list):
		return d, nil
	case list.Kind != yaml.MappingNode:
		return nil, p.errorf(list, "", "shops: want a mapping of shop ids to shops, got %s", kindOf(list))
	}
	for _, kv := range p.pairs(list, "", nil) {
		id := kv.k.Value
		if !shopIDPattern.MatchString(id) {
			return nil, p.errorf(kv.k, "", "shop id %q: 1-64 characters of [A-Za-z0-9._-]", id)
		}
		shop := p.shop(id, deref(kv.v), def)
		if p.err != nil {
			return nil, p.err
		}
		d.Shops[id] = shop
	}
	if p.err != nil {
		return nil, p.err
	}
	return d, nil
}

// dirParser walks a directory's YAML nodes; err is the first error met, which ends the walk.
type dirParser struct {
	file string
	err  error
}

// errorf records the first error: at n's line, of shop (none when "").
func (p *dirParser) errorf(n *yaml.Node, shop, format string, args ...any) error {
	if p.err == nil {
		where := fmt.Sprintf("%s: line %d: ", p.file, n.Line)
		if shop != "" {
			where += "shop " + shop + ": "
		}
		p.err = errors.New(where + fmt.Sprintf(format, args...))
	}
	return p.err
}

// pair is a key of a mapping and its value.
type pair struct{ k, v *yaml.Node }

// pairs lists a mapping's keys and values in the file's order, then those a merge key (<<)
// brings in that the mapping does not give itself. Each key must be a string given once and,
// when known is not nil, one of known; anything else is an error (of shop, when not "").
func (p *dirParser) pairs(m *yaml.Node, shop string, known []string) []pair {
	var own, merged []pair
	seen := map[string]int{} // key -> its line
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := deref(m.Content[i]), m.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			from := deref(v)
			srcs := []*yaml.Node{from}
			if from.Kind == yaml.SequenceNode {
				srcs = from.Content
			}
			for _, src := range srcs {
				if src = deref(src); src.Kind != yaml.MappingNode {
					p.errorf(src, shop, "a merge key (<<) takes a mapping or a list of them, got %s", kindOf(src))
					return nil
				}
				for _, kv := range p.pairs(src, shop, known) {
					if !slices.ContainsFunc(merged, func(o pair) bool { return o.k.Value == kv.k.Value }) {
						merged = append(merged, kv)
					}
				}
			}
			continue
		}
		if k.Kind != yaml.ScalarNode {
			p.errorf(k, shop, "a key must be a single value, got %s", kindOf(k))
			return nil
		}
		if known != nil && !slices.Contains(known, k.Value) {
			p.errorf(k, shop, "unknown field %q (%s)", k.Value, suggest(k.Value, known))
			return nil
		}
		if line, ok := seen[k.Value]; ok {
			what := fmt.Sprintf("field %q", k.Value)
			if known == nil && shop == "" {
				what = "shop " + k.Value
			}
			p.errorf(k, shop, "%s given twice (first at line %d)", what, line)
			return nil
		}
		seen[k.Value] = k.Line
		own = append(own, pair{k, v})
	}
	for _, kv := range merged {
		if _, ok := seen[kv.k.Value]; !ok {
			own = append(own, kv)
		}
	}
	return own
}

// shop reads shop id's mapping n (null: a shop with every default); nil after an error.
func (p *dirParser) shop(id string, n *yaml.Node, def *time.Location) *Shop {
	shop := &Shop{ID: id, Location: def, Closed: map[string]bool{},
		ResponseTarget: DefaultResponseTarget, AftersaleResponseTarget: DefaultAftersaleResponseTarget}
	if isNull(n) {
		return shop
	}
	if n.Kind != yaml.MappingNode {
		p.errorf(n, id, "want a mapping of fields (%s), got %s", strings.Join(shopFields, ", "), kindOf(n))
		return nil
	}
	for _, kv := range p.pairs(n, id, shopFields) {
		field, v := kv.k.Value, deref(kv.v)
		var ok bool
		switch field {
		case "name":
			shop.Name, ok = p.str(v, id, field)
		case "team":
			shop.Team, ok = p.str(v, id, field)
		case "timezone":
			var s string
			if s, ok = p.str(v, id, field); ok && s != "" {
				loc, err := time.LoadLocation(s)
				if err != nil {
					p.errorf(v, id, "timezone %q: %v", s, err)
					return nil
				}
				shop.Location = loc
			}
		case "response_target":
			ok = p.target(v, id, field, &shop.ResponseTarget)
		case "aftersale_response_target":
			ok = p.target(v, id, field, &shop.AftersaleResponseTarget)
		case "business_hours":
			ok = p.hours(v, shop)
		case "closed":
			var dates []*yaml.Node
			if dates, ok = p.list(v, id, field, `["2026-12-25"]`); ok {
				for _, c := range dates {
					if _, err := time.Parse(time.DateOnly, c.Value); err != nil {
						p.errorf(c, id, "closed: %q is not a date (YYYY-MM-DD)", c.Value)
						return nil
					}
					shop.Closed[c.Value] = true
				}
			}
		}
		if !ok {
			return nil
		}
	}
	if p.err != nil {
		return nil
	}
	return shop
}

// target reads a response target into dst; absent (null or "") keeps the default.
func (p *dirParser) target(v *yaml.Node, shop, field string, dst *time.Duration) bool {
	s, ok := p.str(v, shop, field)
	if !ok || s == "" {
		return ok
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		p.errorf(v, shop, "%s %q is not a positive duration (15s, 1m)", field, s)
		return false
	}
	*dst = d
	return true
}

// hours reads business_hours (null: as if absent, always open) into shop.Hours.
func (p *dirParser) hours(v *yaml.Node, shop *Shop) bool {
	id := shop.ID
	if isNull(v) {
		return true
	}
	if v.Kind != yaml.MappingNode {
		p.errorf(v, id, "business_hours: want a mapping of weekdays to lists of ranges, got %s", kindOf(v))
		return false
	}
	var hours [7][]span
	var given [7]bool
	for _, kv := range p.pairs(v, id, nil) {
		day := kv.k.Value
		wd, ok := weekdays[strings.ToLower(day)]
		if !ok {
			p.errorf(kv.k, id, "business_hours: %q is not a weekday (mon, tue, wed, thu, fri, sat, sun)", day)
			return false
		}
		if given[wd] {
			p.errorf(kv.k, id, "business_hours: %s given twice", day)
			return false
		}
		given[wd] = true
		ranges, ok := p.list(deref(kv.v), id, "business_hours "+day, `["09:00-18:00"]`)
		if !ok {
			return false
		}
		for _, r := range ranges {
			sp, err := parseSpan(r.Value)
			if err != nil {
				p.errorf(r, id, "business_hours %s: %v", day, err)
				return false
			}
			hours[wd] = append(hours[wd], sp)
		}
		sort.Slice(hours[wd], func(i, j int) bool { return hours[wd][i].from < hours[wd][j].from })
		for i := 1; i < len(hours[wd]); i++ {
			if hours[wd][i].from < hours[wd][i-1].to {
				p.errorf(kv.v, id, "business_hours %s: ranges overlap", day)
				return false
			}
		}
	}
	if p.err != nil {
		return false
	}
	shop.Hours = &hours
	return true
}

// str reads a field of one value ("" for null).
func (p *dirParser) str(v *yaml.Node, shop, field string) (string, bool) {
	switch {
	case isNull(v):
		return "", true
	case v.Kind == yaml.ScalarNode:
		return v.Value, true
	}
	p.errorf(v, shop, "%s: want a single value, got %s", field, kindOf(v))
	return "", false
}

// list reads a list of values (none for null); example shows one in an error.
func (p *dirParser) list(v *yaml.Node, shop, field, example string) ([]*yaml.Node, bool) {
	if isNull(v) {
		return nil, true
	}
	if v.Kind != yaml.SequenceNode {
		p.errorf(v, shop, "%s: want a list, such as %s, got %s", field, example, kindOf(v))
		return nil, false
	}
	out := make([]*yaml.Node, 0, len(v.Content))
	for _, e := range v.Content {
		if e = deref(e); e.Kind != yaml.ScalarNode || isNull(e) {
			p.errorf(e, shop, "%s: want a list of values, such as %s; an item is %s", field, example, kindOf(e))
			return nil, false
		}
		out = append(out, e)
	}
	return out, true
}

// deref follows aliases to the node they name.
func deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n == nil || n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// kindOf names what a node holds, for an error.
func kindOf(n *yaml.Node) string {
	switch {
	case isNull(n):
		return "nothing"
	case n.Kind == yaml.MappingNode:
		return "a mapping"
	case n.Kind == yaml.SequenceNode:
		return "a list"
	}
	return fmt.Sprintf("%q", n.Value)
}

// suggest names the known key nearest a misspelt one (`did you mean "name"?`), or lists
// them all when none is within two edits.
func suggest(key string, known []string) string {
	best, bestD := "", 3
	for _, k := range known {
		if d := editDistance(strings.ToLower(key), k); d < bestD {
			best, bestD = k, d
		}
	}
	if best != "" {
		return fmt.Sprintf("did you mean %q?", best)
	}
	return "known: " + strings.Join(known, ", ")
}

// editDistance counts the insertions, deletions, substitutions and swaps of neighbours that
// turn a into b (optimal string alignment): "nmae" is one swap from "name".
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}
