// Package shops owns the shop directory of CONTRACT §6 (--shops.file): its YAML format and
// validation, each shop's zone, business hours, closed dates and response targets (pre-sale and after-sale), and the
// business-time arithmetic of response samples. The streaming path and the reference both
// compute business time through it; its own tests check the arithmetic against a brute
// force, across midnight, weekends, closed dates and DST.
package shops
