package forward

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/netip"
	"path/filepath"
	"testing"
)

// TestServeConnect: a CONNECT to an allowed address relays both ways with
// the half-close; one outside the allowed prefixes, or to a name, is
// refused with 403 and never dialled.
func TestServeConnect(t *testing.T) {
	backend, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer backend.Close()
	go serveUpper(backend)
	sock := filepath.Join(t.TempDir(), "egress.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- ServeConnect(ctx, l, []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, t.Logf)
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ServeConnect: %v", err)
		}
	}()

	connect := func(target string) (net.Conn, *bufio.Reader, *http.Response) {
		t.Helper()
		c, err := net.Dial("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(c, "CONNECT "+target+" HTTP/1.1\r\nHost: "+target+"\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
		if err != nil {
			t.Fatalf("CONNECT %s: %v", target, err)
		}
		return c, br, resp
	}

	c, br, resp := connect(backend.Addr().String())
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("CONNECT %s: %s", backend.Addr(), resp.Status)
	}
	io.WriteString(c, "hello")
	c.(*net.UnixConn).CloseWrite()
	if got, err := io.ReadAll(br); err != nil || string(got) != "HELLO" {
		t.Errorf("through the tunnel: %q, %v; want HELLO", got, err)
	}
	c.Close()

	for _, target := range []string{"10.1.2.3:80", "localhost:80"} {
		c, _, resp := connect(target)
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("CONNECT %s: %s, want 403", target, resp.Status)
		}
		c.Close()
	}
}
