// Package pipeline owns consumption: the consumer group with its co-partitioning balancer,
// one worker per owned partition number that reads that partition of both topics, decodes
// and validates records, copies rejects to the dead-letter topic, pre-aggregates a batch in
// the partition's mirror and commits it to Redis in one script call together with the
// offsets. Kafka offset commits follow Redis and only serve lag tooling.
package pipeline
