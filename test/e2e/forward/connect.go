package forward

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"time"
)

// ServeConnect is an HTTP CONNECT proxy on l, as kube-apiserver's egress
// selector speaks it ("HTTPConnect" over a unix socket): each connection
// opens with `CONNECT host:port`, the proxy dials that address from its
// own network namespace and, once connected, relays bytes both ways. Only
// IP literals inside allowed are dialled: the proxy never resolves names,
// so a test cannot reach outside the namespaces it made. Each CONNECT's
// outcome goes to logf. It stops like Serve.
func ServeConnect(ctx context.Context, l net.Listener, allowed []netip.Prefix, logf func(format string, args ...any)) error {
	var d net.Dialer
	return serve(ctx, l, func(ctx context.Context, in net.Conn) (net.Conn, net.Conn, error) {
		br := bufio.NewReader(in)
		_ = in.SetReadDeadline(time.Now().Add(10 * time.Second))
		req, err := http.ReadRequest(br)
		_ = in.SetReadDeadline(time.Time{})
		if err != nil {
			return nil, nil, err
		}
		target, err := connectTarget(req, allowed)
		if err != nil {
			logf("refused: %v", err)
			fmt.Fprintf(in, "HTTP/1.1 403 Forbidden\r\nContent-Length: %d\r\n\r\n%v", len(err.Error()), err)
			return nil, nil, err
		}
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		out, err := d.DialContext(dctx, "tcp", target.String())
		cancel()
		if err != nil {
			logf("CONNECT %s: %v", target, err)
			msg := err.Error()
			fmt.Fprintf(in, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: %d\r\n\r\n%s", len(msg), msg)
			return nil, nil, err
		}
		logf("CONNECT %s: connected", target)
		if _, err := io.WriteString(in, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
			out.Close()
			return nil, nil, err
		}
		return &bufferedConn{Conn: in, r: br}, out, nil
	})
}

// connectTarget checks a CONNECT request and returns its address.
func connectTarget(req *http.Request, allowed []netip.Prefix) (netip.AddrPort, error) {
	if req.Method != http.MethodConnect {
		return netip.AddrPort{}, fmt.Errorf("method %s: only CONNECT is served", req.Method)
	}
	ap, err := netip.ParseAddrPort(req.Host)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("CONNECT %q: want an IP address and port: %w", req.Host, err)
	}
	ap = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	for _, p := range allowed {
		if p.Contains(ap.Addr()) {
			return ap, nil
		}
	}
	return netip.AddrPort{}, fmt.Errorf("CONNECT %s: outside the allowed prefixes %v", ap, allowed)
}

// bufferedConn reads through the reader that parsed the CONNECT request,
// in case the client sent more right behind it.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// CloseWrite passes on the half-close relay relies on.
func (c *bufferedConn) CloseWrite() error {
	if cw, ok := c.Conn.(closeWriter); ok {
		return cw.CloseWrite()
	}
	return c.Conn.Close()
}
