// Package upgrade holds the upgrade tests of stored state (issue 19, CONTRACT §8): fixtures
// of the Redis state that each earlier layout's own build wrote (testdata/layoutN, made by
// TestMakeFixtures from the git history, never by a later build; testdata/README.md says
// how), the fixed event log they were made from (testdata/log.jsonl.gz), and black-box tests
// that run today's `cskpi serve` on them:
//
//   - TestUpgrade: each fixture restored into a real redis-server, the rest of the log
//     consumed by today's build, every series compared with `cskpi recompute`.
//   - TestRefuseUnreadable: a layout from the future and a damaged value are refused,
//     loudly and once, and nothing is written to them.
//   - TestRollingUpdate: the pre-issue build (layout 5) and today's build in one consumer
//     group while partitions move both ways; the sum over instances is exact.
//
// Only test files and testdata live here; no production code imports internal/.
package upgrade
