// Package serve wires `cskpi serve`: Redis client and state store, the consuming pipeline,
// the KPI collector and the HTTP server, so that the command, the demo and the tests run
// the same service.
package serve
