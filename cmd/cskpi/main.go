package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	_ "time/tzdata" // --timezone must work on images without a zoneinfo database
)

func main() { os.Exit(run()) }

func run() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// SIGHUP re-reads --shops.file; a burst of signals is one reload.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	reload := make(chan struct{}, 1)
	go func() {
		for range hup {
			select {
			case reload <- struct{}{}:
			default:
			}
		}
	}()
	return Main(ctx, os.Args[1:], os.Stdout, os.Stderr, reload)
}
