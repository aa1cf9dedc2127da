package layer2

import (
	"net/netip"

	"golang.org/x/net/bpf"
)

// frameConn is the Responder's view of a packet socket bound to one
// interface and one EtherType: whole Ethernet frames in and out. The real
// one is an AF_PACKET socket (responder_socket_linux.go); tests feed crafted
// frames through a fake.
type frameConn interface {
	// ReadFrame reads one frame into b and says where the kernel got it.
	ReadFrame(b []byte) (int, frameMeta, error)
	// WriteFrame sends one complete Ethernet frame as it is.
	WriteFrame(b []byte) error
	Close() error
}

// frameMeta is what the kernel tells about a received frame besides its
// bytes (struct sockaddr_ll).
type frameMeta struct {
	// ifIndex is the interface the frame was received on. A socket bound to
	// a parent interface also sees frames the kernel re-routes to a VLAN
	// device on top of it; those carry the VLAN device's index.
	ifIndex int
	// pktType is the packet type: pktHost, pktBroadcast, pktMulticast,
	// pktOtherHost or pktOutgoing.
	pktType uint8
}

// Packet types from linux/if_packet.h, spelled out so that the frame logic
// builds and is tested on every OS.
const (
	pktHost      = 0
	pktBroadcast = 1
	pktMulticast = 2
	pktOtherHost = 3
	pktOutgoing  = 4
)

// groupJoiner holds IPv6 multicast group memberships on the interface. The
// real one is an ICMPv6 socket, so joining makes the kernel send MLD
// reports and program the NIC's multicast filter; closing it leaves every
// group it joined.
type groupJoiner interface {
	JoinGroup(group netip.Addr) error
	LeaveGroup(group netip.Addr) error
	Close() error
}

// Offsets of the fields the NDP socket filter reads, from the start of an
// untagged Ethernet frame.
const (
	ethHeaderLen    = 14
	ipv6HeaderLen   = 40
	offIPv6NextHdr  = ethHeaderLen + 6
	offICMPv6Type   = ethHeaderLen + ipv6HeaderLen
	protoICMPv6     = 58
	icmpv6TypeNS    = 135
	icmpv6TypeNA    = 136
	bpfKeepWholePkt = 0x40000
	bpfDropPkt      = 0
)

// linkFilter is the head of both socket filters: it drops, in the kernel,
// frames received on another interface (a VLAN or macvlan device on top of
// ours), frames addressed to another host's MAC (PACKET_OTHERHOST: see the
// frame filtering notes at the top of responder.go) and our own outgoing
// frames, then goes on with the instruction that follows it. The Responder
// checks the same things again on each frame it reads.
func linkFilter(ifIndex int) []bpf.Instruction {
	return []bpf.Instruction{
		bpf.LoadExtension{Num: bpf.ExtInterfaceIndex},
		bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: uint32(ifIndex), SkipTrue: 3},
		bpf.LoadExtension{Num: bpf.ExtType},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: pktOtherHost, SkipTrue: 1},
		bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: pktOutgoing, SkipTrue: 1},
		bpf.RetConstant{Val: bpfDropPkt},
	}
}

// arpFilter is the filter of the ARP socket. The socket is bound to the
// ARP EtherType already, so the link checks are all there is.
func arpFilter(ifIndex int) []bpf.Instruction {
	return append(linkFilter(ifIndex), bpf.RetConstant{Val: bpfKeepWholePkt})
}

// ndpFilter is the filter of the IPv6 socket: of all the IPv6 traffic on
// the interface, only Neighbor Solicitations and Advertisements wake us.
func ndpFilter(ifIndex int) []bpf.Instruction {
	return append(linkFilter(ifIndex), ndpContentFilter()...)
}

// ndpContentFilter keeps ICMPv6 NS and NA carried directly in IPv6 (Neighbor
// Discovery never uses extension headers). It is separate from the link
// checks so that tests can run it in golang.org/x/net/bpf's VM, which lacks
// the kernel's packet-type and interface extensions.
func ndpContentFilter() []bpf.Instruction {
	return []bpf.Instruction{
		bpf.LoadAbsolute{Off: offIPv6NextHdr, Size: 1},
		bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: protoICMPv6, SkipTrue: 4},
		bpf.LoadAbsolute{Off: offICMPv6Type, Size: 1},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: icmpv6TypeNS, SkipTrue: 1},
		bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: icmpv6TypeNA, SkipTrue: 1},
		bpf.RetConstant{Val: bpfKeepWholePkt},
		bpf.RetConstant{Val: bpfDropPkt},
	}
}
