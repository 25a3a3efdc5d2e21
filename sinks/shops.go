package sinks

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cskpi/cskpi/windows/shops"
)

// ShopCollector exports the shop directory in force (CONTRACT §6): cskpi_shop_info, whether
// each shop is open at the as-of time, and its response targets: the pre-sale one
// (cskpi_shop_response_target_seconds, without a scene label: no directory series carries
// one) and the after-sale one. Every instance exports the whole directory: aggregate these
// with max, not sum.
type ShopCollector struct {
	holder                        *shops.Holder
	asOf                          func() int64
	info, open, target, aftersale *prometheus.Desc
}

// NewShopCollector exports holder's directory; asOf is the as-of time A (Unix ns).
func NewShopCollector(holder *shops.Holder, asOf func() int64) *ShopCollector {
	return &ShopCollector{holder: holder, asOf: asOf,
		info:   prometheus.NewDesc("cskpi_shop_info", "A shop of the directory, with its name and team (for routing); always 1.", []string{"shop", "name", "team"}, nil),
		open:   prometheus.NewDesc("cskpi_shop_open", "1 while the shop is open at the as-of time (business hours, closed dates), else 0.", []string{"shop"}, nil),
		target: prometheus.NewDesc("cskpi_shop_response_target_seconds", "The shop's pre-sale response-time target (response_target, default 15 s).", []string{"shop"}, nil),
		aftersale: prometheus.NewDesc("cskpi_shop_aftersale_response_target_seconds",
			"The shop's after-sale response-time target (aftersale_response_target, default 3 min).", []string{"shop"}, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *ShopCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.info
	ch <- c.open
	ch <- c.target
	ch <- c.aftersale
}

// Collect implements prometheus.Collector.
func (c *ShopCollector) Collect(ch chan<- prometheus.Metric) {
	d := c.holder.Get()
	if d == nil {
		return
	}
	a := c.asOf()
	for id, s := range d.Shops {
		ch <- prometheus.MustNewConstMetric(c.info, prometheus.GaugeValue, 1, id, s.Name, s.Team)
		open := 0.0
		if s.OpenAt(a) {
			open = 1
		}
		ch <- prometheus.MustNewConstMetric(c.open, prometheus.GaugeValue, open, id)
		ch <- prometheus.MustNewConstMetric(c.target, prometheus.GaugeValue, s.ResponseTarget.Seconds(), id)
		ch <- prometheus.MustNewConstMetric(c.aftersale, prometheus.GaugeValue, s.AftersaleResponseTarget.Seconds(), id)
	}
}
