// Command nsforward relays connections from one endpoint to another. The
// e2e rig starts it with `ip netns exec <ns> nsforward -listen
// tcp:127.0.0.1:P -connect unix:<sock>` so that processes in a node's
// namespace reach a port on the host's loopback (the API server) through a
// unix socket, with no route between the namespaces. It prints one line,
// "nsforward: listening on <endpoint>", once it accepts connections, and
// exits on SIGTERM or SIGINT. With -connect http-connect it is instead an
// HTTP CONNECT proxy dialing from its namespace (the cluster testbed's
// egress path from the API server to pods and kubelets).
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/herald-lb/herald/test/e2e/forward"
)

func main() {
	listen := flag.String("listen", "", "endpoint to accept on: tcp:<host:port> or unix:<path>")
	connect := flag.String("connect", "", "endpoint to relay each connection to: tcp:<host:port> or unix:<path>; or \"http-connect\": act as an HTTP CONNECT proxy to the addresses -allow names")
	allow := flag.String("allow", "", "with -connect http-connect: comma-separated prefixes the proxy may dial")
	flag.Parse()
	if err := run(*listen, *connect, *allow); err != nil {
		fmt.Fprintln(os.Stderr, "nsforward:", err)
		os.Exit(1)
	}
}

func run(listen, connect, allow string) error {
	from, err := forward.ParseEndpoint(listen)
	if err != nil {
		return fmt.Errorf("-listen: %w", err)
	}
	var allowed []netip.Prefix
	var to forward.Endpoint
	if connect == "http-connect" {
		for _, s := range strings.Split(allow, ",") {
			p, err := netip.ParsePrefix(strings.TrimSpace(s))
			if err != nil {
				return fmt.Errorf("-allow: %w", err)
			}
			allowed = append(allowed, p)
		}
	} else if to, err = forward.ParseEndpoint(connect); err != nil {
		return fmt.Errorf("-connect: %w", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	l, err := net.Listen(from.Network, from.Address)
	if err != nil {
		return err
	}
	if allowed != nil {
		fmt.Printf("nsforward: listening on %s, proxying CONNECT to %v\n", from, allowed)
		logf := func(format string, args ...any) {
			fmt.Printf("%s "+format+"\n", append([]any{time.Now().UTC().Format(time.RFC3339Nano)}, args...)...)
		}
		return forward.ServeConnect(ctx, l, allowed, logf)
	}
	fmt.Printf("nsforward: listening on %s, relaying to %s\n", from, to)
	return forward.Serve(ctx, l, to.Dialer())
}
