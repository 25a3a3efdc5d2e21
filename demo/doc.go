// Package demo runs `cskpi demo`: an in-process Kafka-protocol broker (kfake), an
// in-process Redis (miniredis), synthetic shops with one slow to reply, the real service,
// and a compact KPI table on the terminal, so a newcomer sees cskpi work with nothing
// installed.
package demo
