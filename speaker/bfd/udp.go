package bfd

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"syscall"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// Source ports of the sessions (RFC 5881 §4).
const (
	minSourcePort = 49152
	maxSourcePort = 65535
)

// UDP is the Transport over real sockets. The listeners need no privilege
// (3784 is above 1023).
type UDP struct {
	// Port is where packets are sent and listened for; zero means Port.
	// Tests change it.
	Port int
}

var _ Transport = UDP{}

func (u UDP) port() int {
	if u.Port == 0 {
		return Port
	}
	return u.Port
}

// Listen opens the wildcard listener of one family, asking the kernel for
// each packet's TTL or hop limit and destination address (IP_RECVTTL and
// IP_PKTINFO, IPV6_RECVHOPLIMIT and IPV6_RECVPKTINFO). The IPv6 one is
// IPv6-only, so both can be open.
func (u UDP) Listen(v6 bool) (Listener, error) {
	network, addr := "udp4", fmt.Sprintf("0.0.0.0:%d", u.port())
	if v6 {
		network, addr = "udp6", fmt.Sprintf("[::]:%d", u.port())
	}
	c, err := net.ListenPacket(network, addr)
	if err != nil {
		return nil, fmt.Errorf("bfd: listen on %s: %w", addr, err)
	}
	if v6 {
		p := ipv6.NewPacketConn(c)
		if err := p.SetControlMessage(ipv6.FlagHopLimit|ipv6.FlagDst, true); err != nil {
			c.Close()
			return nil, fmt.Errorf("bfd: listen on %s: ask for hop limits: %w", addr, err)
		}
		return listener6{p}, nil
	}
	p := ipv4.NewPacketConn(c)
	if err := p.SetControlMessage(ipv4.FlagTTL|ipv4.FlagDst, true); err != nil {
		c.Close()
		return nil, fmt.Errorf("bfd: listen on %s: ask for TTLs: %w", addr, err)
	}
	return listener4{p}, nil
}

type listener4 struct{ p *ipv4.PacketConn }

func (l listener4) ReadFrom(b []byte) (int, Meta, error) {
	n, cm, src, err := l.p.ReadFrom(b)
	m := Meta{TTL: -1}
	if ua, ok := src.(*net.UDPAddr); ok {
		m.Src = ua.AddrPort().Addr().Unmap()
	}
	if cm != nil {
		m.TTL = cm.TTL
		m.Dst, _ = netip.AddrFromSlice(cm.Dst)
		m.Dst = m.Dst.Unmap()
	}
	return n, m, err
}

func (l listener4) Close() error { return l.p.Close() }

type listener6 struct{ p *ipv6.PacketConn }

func (l listener6) ReadFrom(b []byte) (int, Meta, error) {
	n, cm, src, err := l.p.ReadFrom(b)
	m := Meta{TTL: -1}
	if ua, ok := src.(*net.UDPAddr); ok {
		m.Src = ua.AddrPort().Addr()
	}
	if cm != nil {
		m.TTL = cm.HopLimit
		m.Dst, _ = netip.AddrFromSlice(cm.Dst)
	}
	return n, m, err
}

func (l listener6) Close() error { return l.p.Close() }

// Dial binds a UDP socket to local (any address when invalid) and a free
// source port in 49152-65535, chosen at random and retried when taken, and
// sets its TTL or hop limit to 255.
func (u UDP) Dial(local, peer netip.Addr) (Sender, error) {
	network := "udp4"
	if peer.Is6() {
		network = "udp6"
	}
	var ip net.IP
	if local.IsValid() {
		ip = local.AsSlice()
	}
	var lastErr error
	for range 64 {
		port := minSourcePort + rand.IntN(maxSourcePort-minSourcePort+1)
		c, err := net.ListenUDP(network, &net.UDPAddr{IP: ip, Port: port, Zone: local.Zone()})
		if errors.Is(err, syscall.EADDRINUSE) {
			lastErr = err
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("bfd: session %s-%s: bind: %w", local, peer, err)
		}
		if peer.Is6() {
			err = ipv6.NewConn(c).SetHopLimit(requiredTTL)
		} else {
			err = ipv4.NewConn(c).SetTTL(requiredTTL)
		}
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("bfd: session %s-%s: set TTL 255: %w", local, peer, err)
		}
		return &sender{c: c, to: netip.AddrPortFrom(peer, uint16(u.port()))}, nil
	}
	return nil, fmt.Errorf("bfd: session %s-%s: no free source port: %w", local, peer, lastErr)
}

type sender struct {
	c  *net.UDPConn
	to netip.AddrPort
}

func (s *sender) Send(b []byte) error {
	_, err := s.c.WriteToUDPAddrPort(b, s.to)
	return err
}

func (s *sender) Close() error { return s.c.Close() }
