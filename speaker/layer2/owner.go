// The design of ownership (liveness through per-node Leases, the frozen
// view, availability, rendezvous hashing) is in doc.go.

package layer2

import (
	"net/netip"
	"slices"

	"github.com/herald-lb/herald/internal/rendezvous"
)

// OwnerOf returns the node among candidates that answers for ip: the one
// with the highest rendezvous weight (see the design notes above), or ""
// when there are no candidates. The order of candidates does not matter.
func OwnerOf(ip netip.Addr, candidates []string) string {
	var best string
	var bestWeight uint64
	for _, n := range candidates {
		if w := rendezvous.Weight(rendezvous.NodeSeed(n), ip); best == "" || w > bestWeight || (w == bestWeight && n < best) {
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
		cands[i] = candidate{name: n, seed: rendezvous.NodeSeed(n), unavailable: members.Live[n]}
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
		if w := rendezvous.Weight(c.seed, ip); best == nil || w > bestWeight {
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
