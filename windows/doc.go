// Package windows owns cskpi's state and the KPI rules of CONTRACT §2 that change it: the
// epoch-aligned buckets of the 15m, 24h and 28d windows, waiting episodes, inquiry cohorts
// with their 48 h reply and payment joins, buyers served, remembered event ids, and the
// stream times that decide when any of it can be dropped. Applying a batch to a partition's
// mirror yields a ChangeSet; the Store writes change sets and reads state back, and knows
// nothing else of the mirror.
//
// State is partitioned like the input topics. Each owned partition is held in memory (a
// mirror) and in Redis under keys hash-tagged by partition, and every batch is written by one
// Lua script that compares the stored offsets with the ones the mirror was built from and
// writes the changed state and the new offsets together. A batch built on stale state is
// therefore refused, which is what makes redelivery and zombies harmless.
//
// Files: rules.go is CONTRACT §2, what an applied message, reply, order and refund do, and
// nothing else; partition.go the Partition and a record's outcome (Admit); conv.go the
// conversations the rules keep; bucket.go the minute and hour buckets the rules add to;
// window.go the windows of kpi.Windows() over them; running.go their running totals and
// snapshot.go the Totals a scrape reads; ids.go the remembered event ids; expiry.go what
// is dropped when; changes.go, codec.go, layout.go, stored.go and store.go what Redis holds.
package windows
