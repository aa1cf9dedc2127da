//go:build linux

package layer2

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"syscall"

	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/packet"
	"golang.org/x/net/bpf"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

var (
	_ frameConn   = (*packetConn)(nil)
	_ groupJoiner = (*mcastGroups)(nil)
)

// openResponderSockets opens the Responder's sockets on ifi, in the network
// namespace of the calling thread: once open they stay bound to that
// namespace's interface whatever the thread does next. ndpc and groups are
// nil when the kernel has no IPv6 at all (ipv6.disable=1): the Responder
// then answers ARP only.
func openResponderSockets(ifi *net.Interface) (arpc, ndpc frameConn, groups groupJoiner, err error) {
	a, err := listenPacket(ifi, ethernet.EtherTypeARP, arpFilter(ifi.Index))
	if err != nil {
		return nil, nil, nil, fmt.Errorf("open ARP socket: %w", err)
	}
	g, err := listenGroups(ifi)
	if errors.Is(err, syscall.EAFNOSUPPORT) {
		return a, nil, nil, nil
	}
	if err != nil {
		_ = a.Close()
		return nil, nil, nil, fmt.Errorf("open ICMPv6 socket for multicast groups: %w", err)
	}
	n, err := listenPacket(ifi, ethernet.EtherTypeIPv6, ndpFilter(ifi.Index))
	if err != nil {
		_ = a.Close()
		_ = g.Close()
		return nil, nil, nil, fmt.Errorf("open NDP socket: %w", err)
	}
	return a, n, g, nil
}

// packetConn is an AF_PACKET socket of type SOCK_RAW bound to one interface
// and one EtherType. It reads through the raw file descriptor because
// packet.Conn's ReadFrom drops the interface index and packet type that
// recvfrom(2) reports.
type packetConn struct {
	c  *packet.Conn
	rc syscall.RawConn
}

func listenPacket(ifi *net.Interface, et ethernet.EtherType, filter []bpf.Instruction) (*packetConn, error) {
	prog, err := bpf.Assemble(filter)
	if err != nil {
		return nil, fmt.Errorf("assemble socket filter: %w", err)
	}
	// The filter is attached before bind(2), so no frame it would drop is
	// ever queued.
	c, err := packet.Listen(ifi, packet.Raw, int(et), &packet.Config{Filter: prog})
	if err != nil {
		return nil, err
	}
	rc, err := c.SyscallConn()
	if err != nil {
		_ = c.Close()
		return nil, err
	}
	return &packetConn{c: c, rc: rc}, nil
}

func (p *packetConn) ReadFrame(b []byte) (int, frameMeta, error) {
	var (
		n    int
		from unix.Sockaddr
		rerr error
	)
	err := p.rc.Read(func(fd uintptr) bool {
		for {
			n, from, rerr = unix.Recvfrom(int(fd), b, unix.MSG_DONTWAIT)
			if rerr != unix.EINTR {
				break
			}
		}
		return rerr != unix.EAGAIN
	})
	if err != nil {
		return 0, frameMeta{}, err
	}
	if rerr != nil {
		return 0, frameMeta{}, os.NewSyscallError("recvfrom", rerr)
	}
	sll, ok := from.(*unix.SockaddrLinklayer)
	if !ok {
		return 0, frameMeta{}, fmt.Errorf("recvfrom: unexpected address %T", from)
	}
	return n, frameMeta{ifIndex: sll.Ifindex, pktType: sll.Pkttype}, nil
}

func (p *packetConn) WriteFrame(b []byte) error {
	if len(b) < ethHeaderLen {
		return fmt.Errorf("write frame: %d bytes is shorter than an Ethernet header", len(b))
	}
	_, err := p.c.WriteTo(b, &packet.Addr{HardwareAddr: net.HardwareAddr(b[:6])})
	return err
}

func (p *packetConn) Close() error { return p.c.Close() }

// mcastGroups holds multicast memberships through an ICMPv6 socket that
// receives nothing: its ICMPv6 filter blocks every type, so no traffic
// queues up in a buffer nobody reads.
type mcastGroups struct {
	c   *icmp.PacketConn
	pc  *ipv6.PacketConn
	ifi *net.Interface
}

func listenGroups(ifi *net.Interface) (*mcastGroups, error) {
	c, err := icmp.ListenPacket("ip6:ipv6-icmp", "::")
	if err != nil {
		return nil, err
	}
	pc := c.IPv6PacketConn()
	var f ipv6.ICMPFilter
	f.SetAll(true)
	if err := pc.SetICMPFilter(&f); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("block all ICMPv6 types: %w", err)
	}
	return &mcastGroups{c: c, pc: pc, ifi: ifi}, nil
}

func (g *mcastGroups) JoinGroup(group netip.Addr) error {
	return g.pc.JoinGroup(g.ifi, &net.IPAddr{IP: group.AsSlice()})
}

func (g *mcastGroups) LeaveGroup(group netip.Addr) error {
	return g.pc.LeaveGroup(g.ifi, &net.IPAddr{IP: group.AsSlice()})
}

func (g *mcastGroups) Close() error { return g.c.Close() }
