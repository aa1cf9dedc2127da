// Command nsforward relays connections from one endpoint to another. The
// e2e rig starts it with `ip netns exec <ns> nsforward -listen
// tcp:127.0.0.1:P -connect unix:<sock>` so that processes in a node's
// namespace reach a port on the host's loopback (the API server) through a
// unix socket, with no route between the namespaces. It prints one line,
// "nsforward: listening on <endpoint>", once it accepts connections, and
// exits on SIGTERM or SIGINT.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/herald-lb/herald/test/e2e/forward"
)

func main() {
	listen := flag.String("listen", "", "endpoint to accept on: tcp:<host:port> or unix:<path>")
	connect := flag.String("connect", "", "endpoint to relay each connection to: tcp:<host:port> or unix:<path>")
	flag.Parse()
	if err := run(*listen, *connect); err != nil {
		fmt.Fprintln(os.Stderr, "nsforward:", err)
		os.Exit(1)
	}
}

func run(listen, connect string) error {
	from, err := forward.ParseEndpoint(listen)
	if err != nil {
		return fmt.Errorf("-listen: %w", err)
	}
	to, err := forward.ParseEndpoint(connect)
	if err != nil {
		return fmt.Errorf("-connect: %w", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	l, err := net.Listen(from.Network, from.Address)
	if err != nil {
		return err
	}
	fmt.Printf("nsforward: listening on %s, relaying to %s\n", from, to)
	return forward.Serve(ctx, l, to.Dialer())
}
