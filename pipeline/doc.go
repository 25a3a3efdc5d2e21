// Package pipeline owns consumption. Service joins the consumer group (with its
// co-partitioning balancer), copies the Redis-held offsets to Kafka for lag tooling, and
// keeps health, lag and the stream time. A worker per owned partition number reads that
// partition of both topics, decodes records, applies batches to the partition's mirror,
// copies rejects to the dead-letter topic, and commits each batch's change set to Redis
// together with its offsets. See docs/ARCHITECTURE.md for the data path and the locks.
package pipeline
