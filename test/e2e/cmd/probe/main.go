// Command probe is the e2e testbed's client-side prober for Layer2
// measurements. It runs as its own process inside the client's namespace
// (the test process stays in the host's) and prints one line per
// observation with a wall-clock timestamp in Unix nanoseconds, which the
// test reads back from the process's log and compares with its own clock.
//
//	probe -http http://10.99.0.200/ [-interval 10ms] [-timeout 200ms]
//	    one GET per interval, each on a new connection, without waiting for
//	    the previous one: "<sent> <done> ok <body>" or "<sent> <done> fail <error>"
//	probe -arp 10.99.0.200 [-interface eth0] [-interval 10ms]
//	    one broadcast who-has per interval: "<at> reply <mac>" for an answer
//	    to it, "<at> garp <mac>" for a gratuitous ARP of the address
//
// It prints "# ready <at>" once it is about to send the first probe, and
// stops on SIGTERM or SIGINT, or by itself after -for.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

func main() {
	url := flag.String("http", "", "URL to GET (HTTP mode)")
	arpTarget := flag.String("arp", "", "IPv4 address to resolve (ARP mode)")
	iface := flag.String("interface", "eth0", "interface to send ARP requests on")
	interval := flag.Duration("interval", 10*time.Millisecond, "time between probes")
	timeout := flag.Duration("timeout", 200*time.Millisecond, "HTTP: how long a probe may take before it counts as failed")
	limit := flag.Duration("for", 10*time.Minute, "stop after this long even without a signal")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *limit)
	defer cancel()
	out := &lines{}
	var err error
	switch {
	case (*url == "") == (*arpTarget == ""):
		err = errors.New("give exactly one of -http and -arp")
	case *interval <= 0:
		err = errors.New("-interval must be positive")
	case *url != "":
		err = probeHTTP(ctx, out, *url, *interval, *timeout)
	default:
		err = probeARP(ctx, out, *iface, *arpTarget, *interval)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "probe:", err)
		os.Exit(1)
	}
}

// lines serialises output lines from concurrent probes.
type lines struct{ mu sync.Mutex }

func (l *lines) printf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Printf(format+"\n", args...)
}

func (l *lines) ready() { l.printf("# ready %d", time.Now().UnixNano()) }
