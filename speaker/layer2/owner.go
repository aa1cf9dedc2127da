// Design notes: who answers for a Layer2 address (for doc.go).
//
// Liveness. Each speaker runs client-go leaderelection on a Lease of its
// own, herald-speaker-<node> in the speaker's namespace, with the node
// name as holder identity. It is the only candidate, so it always leads;
// the election is used for its renewal loop and for ReleaseOnCancel: a
// planned stop (SIGTERM cancels the context) empties holderIdentity at
// once, and every other speaker drops the node as soon as its watch
// delivers that write (measured 6-23 ms from the start of the stop to
// every other view). Timings (LeaseConfig): lease duration 1.5 s, renew
// deadline 1 s, retry period 0.5 s. leaderelection renews once per retry
// period, so a node costs one Lease write every 0.5 s plus a round trip:
// at most 2 writes/s per node, N nodes 2N writes/s, whatever the number of
// Services or addresses (measured with 3 speakers and a real API server:
// 6.0 writes/s), and each write reaches every speaker's watch (2N² watch
// events/s cluster-wide). Large clusters trade failover time for load by
// raising the three together (5 s / 3.5 s / 1.5 s: 0.67 writes/s per
// node, failover within about 5 s).
//
// Membership. Every speaker watches the Leases labelled LeaseLabel and
// judges them by its own clock, never by the renewTime written by another
// node (clocks differ): a node is live while its holderIdentity is set and
// its renewTime has changed within the lease duration as observed locally,
// and it is dead at once when it releases its Lease or the Lease is
// deleted. Expiry is also checked against the watch stream itself: a node
// is dropped only when this speaker's own later renewal (written at least
// lease duration minus retry period after the node was last seen) has come
// back through the same watch, which delivers writes in commit order. That
// proves the stream carried everything the silent node would have written,
// so a speaker whose watch or API access breaks never drops anyone because
// of it, not even in the instant before it notices. A node SIGKILLed is
// dropped a lease duration after its last renewal was seen, 1.0-1.5 s
// after it died (measured 1.02-1.51 s over 9 kills). Until a speaker has seen one of
// its own renewals come back, its view is empty and frozen. A Lease seen
// for the first time with a renewTime more than 10 s old by the local
// clock starts out dead (a node that vanished without releasing); a more
// recent one counts as live until it has been silent for a lease duration
// in this speaker's view, so a speaker just started may wait up to 1.5 s
// before it takes over the addresses of a node that died just before.
//
// Frozen view. A speaker whose own renewals have not come back through its
// watch within the renew deadline (it cannot reach the API server, or its
// watch is broken) is not Healthy: it expires nobody and keeps its view;
// explicit news that still arrives (a release, a new node) is applied. So
// when the API server is unreachable for everyone, nobody's view changes
// and every address stays where it was. A node cut off alone keeps its
// frozen view and keeps answering for its addresses, while the others drop
// it after the lease duration and take its addresses over with gratuitous
// ARP/NA. From then on two nodes answer; the responder reports a conflict
// when it hears another node announce an address it answers for, and the
// speaker yields that address (stops answering it) until its view is
// healthy again. Nothing else changes while its view is frozen. When the
// API server is back, its renewal makes it live for the others again and
// the addresses that hash to it move back.
//
// Availability. A node may be unable to answer for an Eip: its interface
// is missing, or has no carrier. The speaker then stops answering for that
// Eip's addresses at once, by itself (its Lease may still be renewed over
// another path), and lists the Eip in the UnavailableAnnotation of its
// Lease ("eip-a,eip-b", sorted), written only when the list changes (one
// extra write per change) and carried by every renewal after. Carrier back
// removes it. CarrierWatch follows links through netlink; InterfaceFor
// resolves an Eip's interface by name or by "can_reach:<ip>" through the
// routing table.
//
// Ownership. The owner of an address is chosen by rendezvous
// (highest-random-weight) hashing among the candidate nodes: live, not
// marking the address's Eip unavailable, and, for Services with
// externalTrafficPolicy Local, holding a ready endpoint. The weight of a
// node for an address is MurmurHash3's 64-bit finalizer applied to FNV-1a
// 64 of the node name, one 0x00 byte and the address's bytes (4 for IPv4,
// also when written IPv4-mapped; 16 for IPv6; no zone); the highest weight
// wins and equal weights go to the smaller name. Every speaker computes the
// same owner without talking, addresses spread evenly, and a node leaving
// or joining moves only the addresses it owned or now wins (about 1/n).
// The hash is part of the protocol between speakers: changing it makes
// speakers of two versions disagree during a rolling upgrade.

package layer2

import (
	"net/netip"
	"slices"
)

const (
	fnvOffset64 = 14695981039346656037
	fnvPrime64  = 1099511628211
)

// nodeSeed is FNV-1a 64 of node followed by the 0x00 separator: the state
// every weight of that node starts from, computed once per node.
func nodeSeed(node string) uint64 {
	h := uint64(fnvOffset64)
	for i := range len(node) {
		h ^= uint64(node[i])
		h *= fnvPrime64
	}
	return h * fnvPrime64 // h ^= 0x00 changes nothing
}

// weight continues FNV-1a from a node's seed over the address's bytes and
// finishes with MurmurHash3's fmix64, which spreads the last bytes (FNV-1a
// alone mixes them poorly into the high bits, and consecutive addresses
// differ only there).
func weight(seed uint64, ip netip.Addr) uint64 {
	h := seed
	if ip = ip.Unmap(); ip.Is4() {
		for _, b := range ip.As4() {
			h ^= uint64(b)
			h *= fnvPrime64
		}
	} else {
		for _, b := range ip.As16() {
			h ^= uint64(b)
			h *= fnvPrime64
		}
	}
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

// OwnerOf returns the node among candidates that answers for ip: the one
// with the highest rendezvous weight (see the design notes above), or ""
// when there are no candidates. The order of candidates does not matter.
func OwnerOf(ip netip.Addr, candidates []string) string {
	var best string
	var bestWeight uint64
	for _, n := range candidates {
		if w := weight(nodeSeed(n), ip); best == "" || w > bestWeight || (w == bestWeight && n < best) {
			best, bestWeight = n, w
		}
	}
	return best
}

// AddressClaim is one Service's wish that ip be answered on Layer2. Several
// Services sharing an address make one claim each.
type AddressClaim struct {
	// IP is the Service's load-balancer address.
	IP netip.Addr
	// Eip names the pool ip comes from; nodes that mark it unavailable
	// cannot answer for ip.
	Eip string
	// Nodes, when not nil, are the only nodes that may answer for this
	// Service: for externalTrafficPolicy Local, the nodes with a ready
	// endpoint. Nil means any node; empty means none.
	Nodes []string
}

// AssignOwners returns the owner of every claimed address under a
// membership view; an address that no live node can answer for is absent.
//
// A node can answer for a claim when it is live, does not mark the claim's
// Eip unavailable, and is among the claim's Nodes (when set). When
// several Services share an address, the owner is chosen among the nodes
// that can answer for all of them; when there is none (their ready
// endpoints are on different nodes), among those that can answer for at
// least one, so that no Service that could be served loses its address
// because another shares it.
func AssignOwners(claims []AddressClaim, members Members) map[netip.Addr]string {
	byIP := make(map[netip.Addr][]AddressClaim, len(claims))
	for _, c := range claims {
		ip := c.IP.Unmap()
		byIP[ip] = append(byIP[ip], c)
	}
	nodes := members.Nodes()
	cands := make([]candidate, len(nodes))
	for i, n := range nodes {
		cands[i] = candidate{name: n, seed: nodeSeed(n), unavailable: members.Live[n]}
	}

	owners := make(map[netip.Addr]string, len(byIP))
	for ip, shared := range byIP {
		best := highestWeight(ip, cands, func(c *candidate) bool { return c.canAnswerAll(shared) })
		if best == nil && len(shared) > 1 {
			best = highestWeight(ip, cands, func(c *candidate) bool { return c.canAnswerAny(shared) })
		}
		if best != nil {
			owners[ip] = best.name
		}
	}
	return owners
}

// candidate is a live node with its hash seed.
type candidate struct {
	name        string
	seed        uint64
	unavailable []string
}

// highestWeight returns the eligible candidate that wins ip, nil if none.
// cands are sorted by name, so equal weights go to the smaller name.
func highestWeight(ip netip.Addr, cands []candidate, eligible func(*candidate) bool) *candidate {
	var best *candidate
	var bestWeight uint64
	for i := range cands {
		c := &cands[i]
		if !eligible(c) {
			continue
		}
		if w := weight(c.seed, ip); best == nil || w > bestWeight {
			best, bestWeight = c, w
		}
	}
	return best
}

// canAnswer reports whether the node may answer for one claim: it does
// not mark the claim's Eip unavailable and is among its Nodes, if set.
func (c *candidate) canAnswer(claim AddressClaim) bool {
	return !slices.Contains(c.unavailable, claim.Eip) && (claim.Nodes == nil || slices.Contains(claim.Nodes, c.name))
}

func (c *candidate) canAnswerAll(claims []AddressClaim) bool {
	for _, claim := range claims {
		if !c.canAnswer(claim) {
			return false
		}
	}
	return true
}

func (c *candidate) canAnswerAny(claims []AddressClaim) bool {
	for _, claim := range claims {
		if c.canAnswer(claim) {
			return true
		}
	}
	return false
}
