// Package bfd is Herald's Bidirectional Forwarding Detection: single-hop,
// asynchronous BFD (RFC 5880 with RFC 5881's IPv4/IPv6 encapsulation)
// beside the node's BGP sessions, so that a router notices a node that
// died or lost its link within transmit interval × multiplier (under a
// second with the default 300 ms × 3) instead of the BGP hold time, and
// the node notices a router it can no longer reach just as fast.
//
// GoBGP v3, which the speaker embeds, has no BFD, so this package is
// Herald's own, written from the RFCs. It has three parts. session is the
// RFC 5880 §6.8 state machine of one session (AdminDown, Down, Init, Up;
// discriminators; Poll/Final for parameter changes, with the 1 s transmit
// interval while not Up of §6.8.3; 75-100 % jitter, 75-90 % with a
// multiplier of 1; detection time = the peer's multiplier × the agreed
// interval of its packets). It does no I/O and reads no clock: every
// method takes the time, so tests drive the timers exactly. Manager runs
// the sessions of one node, one per (peer address, local address), on one
// goroutine, adds, changes and removes them as Apply says, and reports
// state changes through a callback. Transport is its only contact with the
// network; UDP is the real one: packets to port 3784, from a source port in
// 49152-65535 per session, TTL/hop limit 255, received packets with any
// other TTL dropped (IP_RECVTTL, IPV6_RECVHOPLIMIT), sessions bound to the
// node's address of the BGP session when it is known.
//
// Not implemented: the Echo function (Herald sends Required Min Echo RX 0),
// authentication (packets with the A bit are dropped), Demand mode (the D
// bit is never sent; a peer that asks for it still gets periodic packets),
// multihop BFD (RFC 5883) and the Passive role (Herald always sends).
// A removed session sends AdminDown three times at once (and the Manager
// removes them all when it stops), so that the peer does not read the
// silence as a failure.
package bfd
