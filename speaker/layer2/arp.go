package layer2

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
)

// zeroMAC is the target hardware address of a gratuitous ARP request,
// which RFC 5227 §2.3 says is ignored and should be zero.
var zeroMAC = net.HardwareAddr{0, 0, 0, 0, 0, 0}

// handleARP handles one frame read from the ARP socket.
func (r *Responder) handleARP(b []byte, meta frameMeta) rxOutcome {
	f, out := r.checkFrame(b, meta, ethernet.EtherTypeARP)
	if out != 0 {
		return out
	}
	var p arp.Packet
	if err := p.UnmarshalBinary(f.Payload); err != nil || !validARP(&p) {
		return rxInvalid
	}
	if bytes.Equal(p.SenderHardwareAddr, r.link.mac) {
		return rxOwnFrame
	}
	out, conflict := r.answerARP(&p)
	if conflict {
		r.reportConflict(p.SenderIP, p.SenderHardwareAddr)
	}
	return out
}

// validARP accepts Ethernet/IPv4 requests and replies from a unicast MAC.
func validARP(p *arp.Packet) bool {
	return p.HardwareType == 1 &&
		p.ProtocolType == uint16(ethernet.EtherTypeIPv4) &&
		p.HardwareAddrLength == 6 && p.IPLength == 4 &&
		(p.Operation == arp.OperationRequest || p.Operation == arp.OperationReply) &&
		isUnicastMAC(p.SenderHardwareAddr)
}

// answerARP decides on a valid ARP packet from another MAC and sends the
// reply, if any, with mu read-locked. It reports a conflict, rather than
// acting on it, when the sender uses an owned address: that covers both
// gratuitous forms and plain replies and requests. A gratuitous request for
// an address we do not own asks nothing.
func (r *Responder) answerARP(p *arp.Packet) (out rxOutcome, conflict bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if _, ok := r.owned[p.SenderIP]; ok {
		return rxConflict, true
	}
	if p.Operation != arp.OperationRequest || p.SenderIP == p.TargetIP {
		return rxNoQuestion, false
	}
	if _, ok := r.owned[p.TargetIP]; !ok {
		return rxNotOwned, false
	}
	// The reply goes to the requester, unicast. An ARP probe (sender
	// 0.0.0.0) gets the same reply with target 0.0.0.0, as from Linux.
	frame, err := r.arpFrame(arp.OperationReply, p.SenderHardwareAddr, p.SenderHardwareAddr, p.TargetIP, p.SenderIP)
	if err == nil {
		err = r.write(r.arp, frame, &r.counters.arpReplies)
	}
	if err != nil {
		err = fmt.Errorf("interface %q: answer ARP request for %s from %s: %w", r.link.name, p.TargetIP, p.SenderIP, err)
		r.log.Error(err, "reply failed", "ip", p.TargetIP)
		return rxSendFailed, false
	}
	r.log.V(1).Info("answered ARP request", "ip", p.TargetIP, "requester", p.SenderIP, "mac", p.SenderHardwareAddr.String())
	return rxAnswered, false
}

// garpRequest builds the request form of gratuitous ARP for a: who-has a,
// tell a, broadcast.
func (r *Responder) garpRequest(a netip.Addr) ([]byte, error) {
	return r.arpFrame(arp.OperationRequest, ethernet.Broadcast, zeroMAC, a, a)
}

// garpReply builds the reply form of gratuitous ARP for a: a is-at our MAC,
// broadcast, with our MAC as the target hardware address too (RFC 2002
// §4.6). Linux takes a reply for gratuitous, and lets it override an entry
// younger than locktime, only when the target hardware address equals the
// sender's (arp_is_garp).
func (r *Responder) garpReply(a netip.Addr) ([]byte, error) {
	return r.arpFrame(arp.OperationReply, ethernet.Broadcast, r.link.mac, a, a)
}

// arpFrame builds an Ethernet frame from our MAC carrying an ARP packet
// whose sender is our MAC and spa.
func (r *Responder) arpFrame(op arp.Operation, ethDst, tha net.HardwareAddr, spa, tpa netip.Addr) ([]byte, error) {
	p, err := arp.NewPacket(op, r.link.mac, spa, tha, tpa)
	if err != nil {
		return nil, fmt.Errorf("build ARP packet: %w", err)
	}
	payload, err := p.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("marshal ARP packet: %w", err)
	}
	f := ethernet.Frame{Destination: ethDst, Source: r.link.mac, EtherType: ethernet.EtherTypeARP, Payload: payload}
	return f.MarshalBinary()
}
