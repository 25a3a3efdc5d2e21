// Package bench holds cskpi's end-to-end benchmark (`make bench`): the service against a
// real redis-server and the in-process Kafka-protocol broker, next to the limits of the
// same machine (raw kafka-go fetch rate, pipelined Redis command rate), written to
// docs/PERFORMANCE.md. The code lives in _test files so that it can use the test helpers;
// a short smoke of it runs in `make test`.
package bench
