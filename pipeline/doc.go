// Package pipeline owns consumption. Service composes three parts: the member of the
// consumer group (with its co-partitioning balancer), which runs a worker per owned
// partition number each generation, copies the Redis-held offsets to Kafka for lag tooling
// and watches for partitions no live instance claims; the registry of those workers, which
// scrapes and readiness read; and the health poller, which keeps Redis and Kafka health,
// the stream time, the high watermarks (and so the lag) and the partition count current.
// A worker reads its partition of both topics into a queue, decodes records, applies
// batches to the partition's mirror, copies rejects to the dead-letter topic, and commits
// each batch's change set to Redis together with its offsets. See docs/ARCHITECTURE.md for
// the data path and the locks.
package pipeline
