// Command httpname is the e2e testbed's backend "pod": an HTTP server that
// answers every request with its name and a newline, so that a test (or
// the demo) sees which node's backend a load-balanced request reached.
// It prints "httpname: listening on <addr>" once it accepts connections
// and exits on SIGTERM or SIGINT.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	listen := flag.String("listen", ":8080", "address to serve on (both families when the host part is empty)")
	name := flag.String("name", "", "what every response says")
	flag.Parse()
	if err := run(*listen, *name); err != nil {
		fmt.Fprintln(os.Stderr, "httpname:", err)
		os.Exit(1)
	}
}

func run(listen, name string) error {
	if name == "" {
		return errors.New("-name is required")
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	l, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			fmt.Fprintln(w, name)
		}),
		ReadHeaderTimeout: 5 * time.Second,
	}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	fmt.Printf("httpname: listening on %s as %q\n", l.Addr(), name)
	if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
