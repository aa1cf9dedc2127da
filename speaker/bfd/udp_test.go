package bfd

import (
	"net"
	"net/netip"
	"testing"
	"time"
)

// TestUDPLoopback sends one packet through the real sockets on the
// loopback: it must arrive with TTL 255 and its addresses, from a source
// port in RFC 5881's range. No privilege needed.
func TestUDPLoopback(t *testing.T) {
	for _, addr := range []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("::1")} {
		t.Run(addr.String(), func(t *testing.T) {
			u := UDP{Port: freePort(t, addr)}
			ln, err := u.Listen(addr.Is6())
			if err != nil {
				if addr.Is6() {
					t.Skipf("no IPv6 here: %v", err)
				}
				t.Fatal(err)
			}
			defer ln.Close()
			tx, err := u.Dial(addr, addr)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Close()
			port := tx.(*sender).c.LocalAddr().(*net.UDPAddr).Port
			if port < minSourcePort || port > maxSourcePort {
				t.Errorf("source port %d outside 49152-65535", port)
			}
			if err := tx.Send(upPacket.Encode(nil)); err != nil {
				t.Fatal(err)
			}
			done := make(chan struct{})
			go func() {
				select {
				case <-done:
				case <-time.After(5 * time.Second):
					ln.Close()
				}
			}()
			b := make([]byte, 64)
			n, meta, err := ln.ReadFrom(b)
			close(done)
			if err != nil {
				t.Fatal(err)
			}
			if meta.TTL != 255 || meta.Src != addr || meta.Dst != addr {
				t.Errorf("meta = %+v, want TTL 255 from and to %s", meta, addr)
			}
			if _, err := Decode(b[:n]); err != nil {
				t.Errorf("received packet: %v", err)
			}
		})
	}
}

// freePort is a UDP port nobody listens on at the moment.
func freePort(t *testing.T, addr netip.Addr) int {
	t.Helper()
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(addr, 0)))
	if err != nil {
		t.Skipf("cannot bind %s: %v", addr, err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}
