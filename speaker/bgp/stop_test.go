package bgp

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"runtime"
	"testing"
	"time"
)

func TestSessionMatches(t *testing.T) {
	ap := netip.MustParseAddrPort
	s := session{
		local:      netip.MustParseAddr("192.0.2.11"),
		remote:     netip.MustParseAddr("192.0.2.1"),
		remotePort: 179,
		listenPort: 17900,
	}
	tests := []struct {
		name          string
		local, remote netip.AddrPort
		want          bool
	}{
		{name: "the Router connected", local: ap("192.0.2.11:40000"), remote: ap("192.0.2.1:179"), want: true},
		{name: "the router connected", local: ap("192.0.2.11:17900"), remote: ap("192.0.2.1:51000"), want: true},
		{name: "IPv4-mapped socket", local: ap("[::ffff:192.0.2.11]:17900"), remote: ap("[::ffff:192.0.2.1]:51000"), want: true},
		{name: "other port", local: ap("192.0.2.11:40000"), remote: ap("192.0.2.1:443"), want: false},
		{name: "other neighbour", local: ap("192.0.2.11:40000"), remote: ap("192.0.2.2:179"), want: false},
		{name: "other local address", local: ap("192.0.2.12:40000"), remote: ap("192.0.2.1:179"), want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := s.matches(tt.local, tt.remote); got != tt.want {
				t.Errorf("matches(%s, %s) = %v, want %v", tt.local, tt.remote, got, tt.want)
			}
		})
	}
	noListener := s
	noListener.listenPort = 0
	if noListener.matches(ap("192.0.2.11:0"), ap("192.0.2.1:51000")) {
		t.Error("a session without a listener matched an incoming connection on port 0")
	}
}

// TestCloseConnection closes one end of a loopback connection it does not
// hold, the way a graceful Stop closes GoBGP's: the other end reads EOF.
func TestCloseConnection(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("closing another owner's connection is Linux-only")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Skipf("no loopback: %v", err)
	}
	defer l.Close()
	client, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()

	port := uint16(l.Addr().(*net.TCPAddr).Port)
	lo := netip.MustParseAddr("127.0.0.1")
	if err := closeConnection(session{local: lo, remote: lo, remotePort: port + 1}); err == nil {
		t.Error("closeConnection found a connection to a port nobody listens on")
	}
	if err := closeConnection(session{local: lo, remote: lo, remotePort: port}); err != nil {
		t.Fatalf("closeConnection: %v", err)
	}
	_ = server.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := server.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Errorf("the other end read %v, want EOF", err)
	}
	if _, err := client.Write([]byte("x")); err == nil {
		t.Error("the closed end could still write")
	}
}
