package keepalived

import (
	"cmp"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/herald-lb/herald/internal/rendezvous"
)

const (
	// TopPriority is the priority of a VIP's first-ranked node when it must
	// not claim the address at once (a preempt delay is set): the highest a
	// VRRP router may take while it still waits for the election, since
	// OwnerPriority skips it.
	TopPriority = 254
	// OwnerPriority is VRRP's "owns the address" priority. keepalived starts
	// an instance that has it and says `state MASTER` as master at once
	// (80 ms here) instead of as backup for a master-down interval (3.4 s
	// at a 1 s advert), so Render gives it to a VIP's first-ranked node
	// when no preempt delay asks that node to wait: a new VIP answers
	// without the wait, and a first-ranked node that returns takes its
	// VIPs back at once, as preemption would do 3.4 s later anyway.
	OwnerPriority = 255
	// MinPriority is the lowest priority a participant gets. The
	// master-down interval is 3×advert + (256−priority)/256×advert; keeping
	// every priority at least 200 keeps the skew term under a quarter of an
	// advert, so a failover costs about the same whichever backup wins.
	MinPriority = 200
	// DefaultParticipants is how many nodes run an instance for a VIP when
	// the operator says nothing: one master and two backups survive any
	// single node loss and a second one, without every node sending adverts
	// for every VIP.
	DefaultParticipants = 3
	// MaxParticipants bounds the participant cap so that priorities, one
	// per rank counted down from TopPriority, stay above MinPriority.
	MaxParticipants = 54
)

// Rank orders nodes for vip by rendezvous (highest-random-weight) hashing:
// the node with the highest hash of (node, address) comes first. Every
// speaker computes the same order from the same node set without talking,
// masters spread evenly over nodes, and removing a node changes nothing in
// the relative order of the others. Equal weights, which 64-bit hashes make
// astronomically unlikely, go to the smaller name, so there is never a tie.
// Duplicate names count once; the input order does not matter and the
// input is not modified.
//
// The hash is part of the protocol between speakers: two versions that rank
// differently would render different priorities during a rolling upgrade.
// TestRankPinned fixes it.
func Rank(vip netip.Addr, nodes []string) []string {
	vip = vip.Unmap()
	type weighted struct {
		name   string
		weight uint64
	}
	ws := make([]weighted, 0, len(nodes))
	seen := make(map[string]bool, len(nodes))
	for _, n := range nodes {
		if seen[n] {
			continue
		}
		seen[n] = true
		ws = append(ws, weighted{n, rankWeight(n, vip)})
	}
	slices.SortFunc(ws, func(a, b weighted) int {
		if c := cmp.Compare(b.weight, a.weight); c != 0 {
			return c
		}
		return strings.Compare(a.name, b.name)
	})
	out := make([]string, len(ws))
	for i, w := range ws {
		out[i] = w.name
	}
	return out
}

// Participants returns the nodes that run an instance for vip: the first
// limit of Rank's order. A limit of zero or less means DefaultParticipants;
// one above MaxParticipants is lowered to it, so that Priorities never goes
// below MinPriority (Settings.Validate rejects such a limit first).
func Participants(vip netip.Addr, nodes []string, limit int) []string {
	switch {
	case limit <= 0:
		limit = DefaultParticipants
	case limit > MaxParticipants:
		limit = MaxParticipants
	}
	ranked := Rank(vip, nodes)
	if len(ranked) > limit {
		ranked = ranked[:limit]
	}
	return ranked
}

// PriorityAt is the VRRP priority of the node ranked rank (0 first):
// TopPriority counting down by one, so no two participants of a VIP tie and
// the election always agrees with the ranking. It fails for ranks that
// would fall below MinPriority.
func PriorityAt(rank int) (int, error) {
	if rank < 0 || rank >= MaxParticipants {
		return 0, fmt.Errorf("rank %d outside 0-%d: %w", rank, MaxParticipants-1, ErrTooManyParticipants)
	}
	return TopPriority - rank, nil
}

// Priorities maps each of a VIP's participants, in rank order, to its VRRP
// priority (see PriorityAt).
func Priorities(participants []string) (map[string]int, error) {
	out := make(map[string]int, len(participants))
	for i, n := range participants {
		p, err := PriorityAt(i)
		if err != nil {
			return nil, fmt.Errorf("node %q: %w", n, err)
		}
		out[n] = p
	}
	return out, nil
}

// ErrTooManyParticipants means more nodes would run a VIP's instance than
// there are priorities between MinPriority and TopPriority.
var ErrTooManyParticipants = errors.New("too many participants")

// rankWeight is the rendezvous hash Layer2 ownership uses too
// (internal/rendezvous).
func rankWeight(node string, vip netip.Addr) uint64 {
	return rendezvous.Weight(rendezvous.NodeSeed(node), vip)
}
