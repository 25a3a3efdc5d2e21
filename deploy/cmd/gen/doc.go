// Command gen writes the generated files of deploy/ (rule files, the PrometheusRule,
// dashboards) from their Go source. Run it from the repository root: `make generate`.
package main
