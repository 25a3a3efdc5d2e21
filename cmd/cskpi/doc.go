// Command cskpi turns live-chat and order events into customer-service KPIs.
// See README.md; subcommands: serve, demo, produce, loadgen, recompute, check.
//
// main.go is the thin main (signals); app.go parses the command line into each command's
// options and runs it, so that tests call Main as the binary would run.
package main
