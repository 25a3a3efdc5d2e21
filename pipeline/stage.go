package pipeline

import "errors"

// The stages of a partition's consumer, the stage label of cskpi_partition_stalled.
const (
	stageLoad       = "load"       // reading the state from Redis
	stageFetch      = "fetch"      // reading the topics
	stageDeadletter = "deadletter" // copying rejected records to the dead-letter topic
	stageCommit     = "commit"     // writing a batch to Redis
)

// stageError names the stage a consumer failure happened at.
type stageError struct {
	stage string
	err   error
}

func (e *stageError) Error() string { return e.err.Error() }
func (e *stageError) Unwrap() error { return e.err }

func atStage(stage string, err error) error {
	if err == nil {
		return nil
	}
	return &stageError{stage, err}
}

func stageOf(err error) string {
	var se *stageError
	if errors.As(err, &se) {
		return se.stage
	}
	return "consume"
}

func stageAdvice(stage string) string {
	switch stage {
	case stageLoad, stageCommit:
		return "Check that Redis is reachable, not out of memory (maxmemory, OOM errors) and not read-only (a replica); docs/RUNBOOK.md, CskpiPartitionStalled."
	case stageDeadletter:
		return "Check that the dead-letter topic exists and this service may write to it, and that the broker accepts its records (message.max.bytes); docs/RUNBOOK.md, CskpiPartitionStalled."
	case stageFetch:
		return "Check that the brokers lead the partition and this service may read it; docs/RUNBOOK.md, CskpiPartitionStalled."
	}
	return "docs/RUNBOOK.md, CskpiPartitionStalled."
}
