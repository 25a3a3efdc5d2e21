package kpi

import "testing"

// TestRatios: every KPI of the catalogue divides two families of one level that share a
// window, and is named in both languages.
func TestRatios(t *testing.T) {
	if len(Ratios()) != int(NumRatios) {
		t.Fatalf("%d KPIs, want %d", len(Ratios()), NumRatios)
	}
	for i, r := range Ratios() {
		t.Run(r.Name, func(t *testing.T) {
			if r.ID != RatioID(i) {
				t.Errorf("ID %d at position %d", r.ID, i)
			}
			if r.Name == "" || r.Local == "" || r.Section == "" {
				t.Errorf("unnamed: %+v", r)
			}
			num, den := r.Num.Family(), r.Den.Family()
			if num.Level != den.Level || (num.Level != ShopWindow && num.Level != AgentWindow) {
				t.Errorf("%s (level %d) over %s (level %d): want one windowed level", num.Name, num.Level, den.Name, den.Level)
			}
			if len(r.Windows()) == 0 {
				t.Errorf("%s and %s share no window", num.Name, den.Name)
			}
			if r.Unit == Duration && num.Unit != Millis {
				t.Errorf("a mean duration over %s, which is no duration", num.Name)
			}
			if r.Unit == Amount && num.Unit != Fen {
				t.Errorf("a mean amount over %s, which is no amount", num.Name)
			}
			if _, ok := r.Of(1, 0); ok {
				t.Error("a KPI over a zero denominator exists")
			}
		})
	}
}
