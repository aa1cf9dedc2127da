package layer2

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"

	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/ndp"
)

// ndpHopLimit is the hop limit of every Neighbor Discovery message, sent
// and accepted (RFC 4861 §7.1): 255 proves it was not routed.
const ndpHopLimit = 255

// allNodesMAC is the Ethernet address of ff02::1.
var allNodesMAC = net.HardwareAddr{0x33, 0x33, 0, 0, 0, 1}

// ndpPacket is a Neighbor Discovery message with its IPv6 addresses.
type ndpPacket struct {
	src, dst netip.Addr
	msg      ndp.Message
}

// handleNDP handles one frame read from the IPv6 socket.
func (r *Responder) handleNDP(b []byte, meta frameMeta) rxOutcome {
	f, out := r.checkFrame(b, meta, ethernet.EtherTypeIPv6)
	if out != 0 {
		return out
	}
	p, ok := parseNDP(f.Payload)
	if !ok {
		return rxInvalid
	}
	switch m := p.msg.(type) {
	case *ndp.NeighborSolicitation:
		return r.handleNS(p, m, f.Source)
	case *ndp.NeighborAdvertisement:
		return r.handleNA(p, m, f.Source)
	}
	return rxNoQuestion
}

// parseNDP parses an IPv6 packet carrying an ICMPv6 Neighbor Discovery
// message and applies the checks RFC 4861 §7.1 asks of every such message:
// hop limit 255, valid checksum, code 0. Packet sockets see frames before
// the IPv6 stack, so nobody checked them yet.
func parseNDP(b []byte) (ndpPacket, bool) {
	if len(b) < ipv6HeaderLen || b[0]>>4 != 6 || b[6] != protoICMPv6 || b[7] != ndpHopLimit {
		return ndpPacket{}, false
	}
	n := int(binary.BigEndian.Uint16(b[4:6]))
	if n < 4 || ipv6HeaderLen+n > len(b) {
		return ndpPacket{}, false
	}
	p := ndpPacket{
		src: netip.AddrFrom16([16]byte(b[8:24])),
		dst: netip.AddrFrom16([16]byte(b[24:40])),
	}
	body := b[ipv6HeaderLen : ipv6HeaderLen+n]
	if body[1] != 0 || icmpv6Checksum(p.src, p.dst, body) != 0 {
		return ndpPacket{}, false
	}
	m, err := ndp.ParseMessage(body)
	if err != nil {
		return ndpPacket{}, false
	}
	p.msg = m
	return p, true
}

// handleNS answers a Neighbor Solicitation for an owned target. It goes to
// the target's solicited-node group (address resolution, DAD) or to the
// target itself (NUD); anything else is not a valid solicitation for it.
func (r *Responder) handleNS(p ndpPacket, ns *ndp.NeighborSolicitation, ethSrc net.HardwareAddr) rxOutcome {
	target := ns.TargetAddress
	slla := linkLayerOption(ns.Options, ndp.Source)
	dad := p.src.IsUnspecified()
	switch {
	case target.IsMulticast(), p.dst != target && p.dst != solicitedNode(target):
		return rxInvalid
	case dad && (p.dst != solicitedNode(target) || slla != nil): // RFC 4861 §7.1.1
		return rxInvalid
	}
	mac := ethSrc
	if slla != nil {
		mac = slla
	}
	if !isUnicastMAC(mac) {
		return rxInvalid
	}
	if bytes.Equal(mac, r.link.mac) {
		return rxOwnFrame
	}
	out, conflict := r.answerNS(p, target, dad, mac)
	if conflict {
		r.reportConflict(p.src, mac)
	}
	return out
}

// answerNS sends the advertisement, with mu read-locked. A solicitation
// whose source is an owned address reveals another host using it: reported,
// not answered.
func (r *Responder) answerNS(p ndpPacket, target netip.Addr, dad bool, mac net.HardwareAddr) (out rxOutcome, conflict bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if _, ok := r.owned[p.src]; ok {
		return rxConflict, true
	}
	if _, ok := r.owned[target]; !ok {
		return rxNotOwned, false
	}
	// A DAD probe has no address to answer to: the advertisement goes to
	// all nodes, not solicited (RFC 4861 §7.2.4).
	dst, ethDst, solicited := p.src, mac, true
	if dad {
		dst, ethDst, solicited = netip.IPv6LinkLocalAllNodes(), allNodesMAC, false
	}
	frame, err := r.naFrame(target, dst, ethDst, solicited)
	if err == nil {
		err = r.write(r.ndp, frame, &r.counters.naReplies)
	}
	if err != nil {
		err = fmt.Errorf("interface %q: answer neighbor solicitation for %s from %s: %w", r.link.name, target, p.src, err)
		r.log.Error(err, "reply failed", "ip", target)
		return rxSendFailed, false
	}
	r.log.V(1).Info("answered neighbor solicitation", "ip", target, "requester", p.src, "mac", mac.String(), "dad", dad)
	return rxAnswered, false
}

// handleNA reports a Neighbor Advertisement for an owned address from
// another MAC: the target link-layer address option names the claimant,
// or failing that the frame's source.
func (r *Responder) handleNA(p ndpPacket, na *ndp.NeighborAdvertisement, ethSrc net.HardwareAddr) rxOutcome {
	if na.TargetAddress.IsMulticast() || (p.dst.IsMulticast() && na.Solicited) { // RFC 4861 §7.1.2
		return rxInvalid
	}
	mac := linkLayerOption(na.Options, ndp.Target)
	if mac == nil {
		mac = ethSrc
	}
	if bytes.Equal(mac, r.link.mac) {
		return rxOwnFrame
	}
	r.mu.RLock()
	_, owned := r.owned[na.TargetAddress]
	r.mu.RUnlock()
	if !owned {
		return rxNoQuestion
	}
	r.reportConflict(na.TargetAddress, mac)
	return rxConflict
}

// unsolicitedNA builds the IPv6 announcement of a: an advertisement to all
// nodes, override set, solicited clear.
func (r *Responder) unsolicitedNA(a netip.Addr) ([]byte, error) {
	return r.naFrame(a, netip.IPv6LinkLocalAllNodes(), allNodesMAC, false)
}

// naFrame builds an Ethernet frame carrying a Neighbor Advertisement for
// target, from target, with the override flag and our MAC as the target
// link-layer address.
func (r *Responder) naFrame(target, dst netip.Addr, ethDst net.HardwareAddr, solicited bool) ([]byte, error) {
	body, err := ndp.MarshalMessage(&ndp.NeighborAdvertisement{
		Solicited:     solicited,
		Override:      true,
		TargetAddress: target,
		Options:       []ndp.Option{&ndp.LinkLayerAddress{Direction: ndp.Target, Addr: r.link.mac}},
	})
	if err != nil {
		return nil, fmt.Errorf("marshal neighbor advertisement: %w", err)
	}
	binary.BigEndian.PutUint16(body[2:4], icmpv6Checksum(target, dst, body))

	pkt := make([]byte, ipv6HeaderLen, ipv6HeaderLen+len(body))
	pkt[0] = 6 << 4
	binary.BigEndian.PutUint16(pkt[4:6], uint16(len(body)))
	pkt[6] = protoICMPv6
	pkt[7] = ndpHopLimit
	s, d := target.As16(), dst.As16()
	copy(pkt[8:24], s[:])
	copy(pkt[24:40], d[:])
	pkt = append(pkt, body...)

	f := ethernet.Frame{Destination: ethDst, Source: r.link.mac, EtherType: ethernet.EtherTypeIPv6, Payload: pkt}
	return f.MarshalBinary()
}

// icmpv6Checksum returns the ICMPv6 checksum of body sent from src to dst
// (RFC 4443 §2.3): the complement of the one's complement sum of the IPv6
// pseudo-header and body. Over a body whose checksum is filled in, it
// returns 0 when that checksum is right.
func icmpv6Checksum(src, dst netip.Addr, body []byte) uint16 {
	var sum uint32
	add := func(b []byte) {
		for ; len(b) >= 2; b = b[2:] {
			sum += uint32(b[0])<<8 | uint32(b[1])
		}
		if len(b) == 1 {
			sum += uint32(b[0]) << 8
		}
	}
	s, d := src.As16(), dst.As16()
	add(s[:])
	add(d[:])
	n := uint32(len(body))
	sum += n>>16 + n&0xffff + protoICMPv6
	add(body)
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// linkLayerOption returns the source or target link-layer address option
// of a Neighbor Discovery message, or nil.
func linkLayerOption(opts []ndp.Option, dir ndp.Direction) net.HardwareAddr {
	for _, o := range opts {
		if lla, ok := o.(*ndp.LinkLayerAddress); ok && lla.Direction == dir {
			return lla.Addr
		}
	}
	return nil
}
