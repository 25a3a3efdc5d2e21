// Package testenv gives tests real collaborators instead of mocks: a redis-server process
// of its own on a free port, an in-process Kafka-protocol broker (kfake), and the cskpi
// binary built from the working tree. Each helper ties its teardown to t.Cleanup, so a
// test never leaks a process or a port into the next one.
//
// Missing tools are a skip on a developer machine but a failure under CI (env CI set):
// a CI run that silently skipped the integration tests would be green for nothing.
//
// Every wait goes through WaitFor, a deadline-bounded poll, never a bare sleep: a sleep
// is either too short on a loaded 2-core CI machine or wastes time everywhere else.
package testenv
