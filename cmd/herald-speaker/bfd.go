package main

import (
	"context"
	"fmt"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/herald-lb/herald/speaker"
	"github.com/herald-lb/herald/speaker/bfd"
)

// startBFD creates the BFD sessions of the BGP mode (speaker.BGPBFD; its
// Router is set once the router exists) and runs them. stop ends them and
// waits: it is called after the BGP mode's shutdown, so that the routers
// get AdminDown, which they must not count as a failure, rather than
// silence, which they would.
func startBFD(log logr.Logger, reg prometheus.Registerer, changed func()) (*speaker.BGPBFD, func(), error) {
	metrics, err := speaker.NewBFDMetrics(reg)
	if err != nil {
		return nil, nil, fmt.Errorf("register bfd metrics: %w", err)
	}
	link := &speaker.BGPBFD{Log: log, Metrics: metrics, Changed: changed}
	mgr := bfd.NewManager(bfd.Options{Transport: bfd.UDP{}, Log: log, OnChange: link.OnChange})
	link.Sessions = mgr
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = mgr.Run(ctx)
	}()
	return link, func() { cancel(); <-done }, nil
}
