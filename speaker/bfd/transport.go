package bfd

import (
	"net/netip"
)

// Port is the UDP port single-hop BFD Control packets are sent to (RFC
// 5881 §4).
const Port = 3784

// requiredTTL is the TTL (IPv4) or hop limit (IPv6) every single-hop BFD
// packet is sent with, and the only one accepted (RFC 5881 §5, the GTSM
// rule): a packet from further away cannot carry 255.
const requiredTTL = 255

// Meta is what the socket knows about a received packet.
type Meta struct {
	// Src is the sender's address, Dst the address it was sent to.
	Src, Dst netip.Addr
	// TTL is the IPv4 TTL or IPv6 hop limit it arrived with; -1 when the
	// socket could not tell, which fails the TTL check.
	TTL int
}

// Listener receives the BFD packets of one address family, for every
// session. The UDP one listens on Port with TTL and destination reporting;
// tests use an in-memory one.
type Listener interface {
	ReadFrom(b []byte) (int, Meta, error)
	Close() error
}

// Sender sends one session's packets from one UDP source port to the peer
// (RFC 5881 §4: one source port per session, in 49152-65535), with TTL
// 255.
type Sender interface {
	Send(b []byte) error
	Close() error
}

// Transport is the Manager's whole contact with the network. UDP is the
// real one.
type Transport interface {
	// Listen opens the listener of IPv6 (v6) or IPv4.
	Listen(v6 bool) (Listener, error)
	// Dial opens a session's sender, bound to local when it is valid.
	Dial(local, peer netip.Addr) (Sender, error)
}
