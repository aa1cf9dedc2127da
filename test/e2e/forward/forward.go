// Package forward relays byte streams between a listener and a dialled
// endpoint. The e2e rig uses it to join a TCP port on the loopback of a
// network namespace to a TCP port on the host's loopback through a unix
// socket, which crosses namespaces without any routed path (DESIGN §4):
//
//	node namespace 127.0.0.1:P --nsforward--> unix socket --rig--> host 127.0.0.1:P
package forward

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
)

// Endpoint is "tcp:<host:port>" or "unix:<path>".
type Endpoint struct {
	Network, Address string
}

// ParseEndpoint reads "tcp:127.0.0.1:6443" or "unix:/run/x.sock".
func ParseEndpoint(s string) (Endpoint, error) {
	network, addr, ok := strings.Cut(s, ":")
	if !ok || addr == "" || (network != "tcp" && network != "unix") {
		return Endpoint{}, fmt.Errorf("endpoint %q: want tcp:<host:port> or unix:<path>", s)
	}
	return Endpoint{Network: network, Address: addr}, nil
}

func (e Endpoint) String() string { return e.Network + ":" + e.Address }

// Dialer returns a function that connects to e.
func (e Endpoint) Dialer() func(context.Context) (net.Conn, error) {
	var d net.Dialer
	return func(ctx context.Context) (net.Conn, error) {
		return d.DialContext(ctx, e.Network, e.Address)
	}
}

// Serve accepts connections on l and relays each to a fresh connection
// from dial, in both directions, until ctx ends; then it closes l and
// every open connection and returns once all relays have stopped. A
// connection whose dial fails is closed at once.
func Serve(ctx context.Context, l net.Listener, dial func(context.Context) (net.Conn, error)) error {
	return serve(ctx, l, func(ctx context.Context, in net.Conn) (net.Conn, net.Conn, error) {
		out, err := dial(ctx)
		return in, out, err
	})
}

// serve is Serve with a dial that may read from (and wrap) the accepted
// connection first; it returns the connection to relay from and the one
// to relay to.
func serve(ctx context.Context, l net.Listener, dial func(context.Context, net.Conn) (net.Conn, net.Conn, error)) error {
	var (
		mu    sync.Mutex
		conns = map[net.Conn]bool{}
		wg    sync.WaitGroup
	)
	track := func(c net.Conn, add bool) bool {
		mu.Lock()
		defer mu.Unlock()
		if add && ctx.Err() != nil {
			return false
		}
		if add {
			conns[c] = true
		} else {
			delete(conns, c)
		}
		return true
	}
	stop := context.AfterFunc(ctx, func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for c := range conns {
			c.Close()
		}
	})
	defer stop()

	var err error
	for {
		var in net.Conn
		in, err = l.Accept()
		if err != nil {
			break
		}
		if !track(in, true) {
			in.Close()
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer track(in, false)
			defer in.Close()
			from, out, err := dial(ctx, in)
			if err != nil {
				return
			}
			if !track(out, true) {
				out.Close()
				return
			}
			defer track(out, false)
			defer out.Close()
			relay(from, out)
		}()
	}
	l.Close()
	wg.Wait()
	if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
		return nil
	}
	return fmt.Errorf("forward: accept on %s: %w", l.Addr(), err)
}

// relay copies a to b and b to a; when one side finishes sending, the
// other's write half is closed so that the peer sees EOF (TLS close_notify
// and HTTP keep-alive both rely on it), and relay returns once both
// directions are done.
func relay(a, b net.Conn) {
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); copyHalf(b, a) }()
	go func() { defer wg.Done(); copyHalf(a, b) }()
	wg.Wait()
}

type closeWriter interface{ CloseWrite() error }

func copyHalf(dst, src net.Conn) {
	_, err := io.Copy(dst, src)
	if cw, ok := dst.(closeWriter); ok && err == nil {
		cw.CloseWrite()
		return
	}
	// An error (reset, closed) ends the whole connection.
	dst.Close()
	src.Close()
}
