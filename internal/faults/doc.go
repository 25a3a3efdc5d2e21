// Package faults holds the fault-injection tests of docs/RELIABILITY.md: the `cskpi serve`
// binary against a real redis-server and the in-process Kafka-protocol broker, with the
// process SIGKILLed at random points, Redis stopped or restarted empty, instances of one
// group killed or frozen while others take over, the broker unreachable at start and
// mid-stream, hostile records, cardinality caps, and TLS, SASL and password access. Each
// test ends by comparing the exported series with `cskpi recompute` on the same log, and
// logs (go test -v) what it observed: recovery times, records replayed, series compared.
//
// The package has only tests; it exists so that `make test` runs them with the rest, four at
// a time. The long ones skip unless CSKPI_TEST_LONG is set: `make test-long` runs them.
package faults
