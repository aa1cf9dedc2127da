package forward

import (
	"bufio"
	"context"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseEndpoint(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    Endpoint
		wantErr bool
	}{
		{in: "tcp:127.0.0.1:6443", want: Endpoint{"tcp", "127.0.0.1:6443"}},
		{in: "tcp:[::1]:6443", want: Endpoint{"tcp", "[::1]:6443"}},
		{in: "unix:/run/a.sock", want: Endpoint{"unix", "/run/a.sock"}},
		{in: "udp:1.2.3.4:5", wantErr: true},
		{in: "tcp:", wantErr: true},
		{in: "/run/a.sock", wantErr: true},
	} {
		got, err := ParseEndpoint(tc.in)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("ParseEndpoint(%q) = %v, %v; want %v, error %v", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}

// TestServeRelays runs an echo server behind a forwarder, both on unix
// sockets, and checks both directions, the half-close and the shutdown.
func TestServeRelays(t *testing.T) {
	dir := t.TempDir()
	backend, err := net.Listen("unix", filepath.Join(dir, "backend.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer backend.Close()
	go serveUpper(backend)

	front, err := net.Listen("unix", filepath.Join(dir, "front.sock"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() {
		served <- Serve(ctx, front, Endpoint{"unix", backend.Addr().String()}.Dialer())
	}()

	for i := range 3 {
		c, err := net.Dial("unix", front.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write([]byte("hello")); err != nil {
			t.Fatal(err)
		}
		c.(*net.UnixConn).CloseWrite()
		got, err := bufio.NewReader(c).ReadString('\n')
		if err != io.EOF || got != "HELLO" {
			t.Errorf("round %d: got %q, %v; want HELLO, EOF", i, got, err)
		}
		c.Close()
	}

	// An open connection does not keep Serve from returning.
	idle, err := net.Dial("unix", front.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	cancel()
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return within 5 s of its context ending")
	}
}

// serveUpper answers each connection on l with what it read, upper-cased,
// once the client half-closed; it returns when l is closed.
func serveUpper(l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			data, _ := io.ReadAll(c) // until the client's half-close
			c.Write([]byte(strings.ToUpper(string(data))))
		}()
	}
}
