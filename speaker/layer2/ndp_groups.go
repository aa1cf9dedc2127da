package layer2

import (
	"fmt"
	"net/netip"
)

// joinLocked counts a newly owned IPv6 address in its solicited-node group
// and joins the group unless it is joined already (another owned address
// shares it). A failed join is retried by the next address of the group to
// be gained, or by Announce.
func (r *Responder) joinLocked(a netip.Addr) error {
	g := solicitedNode(a)
	r.members[g]++
	if r.joined[g] {
		return nil
	}
	if err := r.groups.JoinGroup(g); err != nil {
		return fmt.Errorf("interface %q: join group %s for %s: %w", r.link.name, g, a, err)
	}
	r.joined[g] = true
	return nil
}

// leaveLocked uncounts a released IPv6 address and leaves its group when no
// other owned address is in it.
func (r *Responder) leaveLocked(a netip.Addr) error {
	g := solicitedNode(a)
	r.members[g]--
	if r.members[g] > 0 {
		return nil
	}
	delete(r.members, g)
	if !r.joined[g] {
		return nil
	}
	delete(r.joined, g)
	if err := r.groups.LeaveGroup(g); err != nil {
		return fmt.Errorf("interface %q: leave group %s for %s: %w", r.link.name, g, a, err)
	}
	return nil
}

// solicitedNode returns the solicited-node multicast address of a, ff02::1:ffXX:XXXX
// with the low 24 bits of a (RFC 4291 §2.7.1).
func solicitedNode(a netip.Addr) netip.Addr {
	b := a.As16()
	return netip.AddrFrom16([16]byte{0: 0xff, 1: 0x02, 11: 0x01, 12: 0xff, 13: b[13], 14: b[14], 15: b[15]})
}
