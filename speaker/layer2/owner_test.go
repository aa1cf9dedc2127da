package layer2

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/herald-lb/herald/internal/rendezvous"
)

// TestRendezvousWeightIsStable pins the hash: speakers of different
// versions must compute the same owners during a rolling upgrade. The
// values were checked against an independent implementation of the
// documented hash (FNV-1a 64 of node, 0x00, address bytes; fmix64).
func TestRendezvousWeightIsStable(t *testing.T) {
	for _, tc := range []struct {
		node, ip string
		want     uint64
	}{
		{"node1", "192.168.0.91", 0x9e59583175705b42},
		{"node2", "192.168.0.91", 0xea5ca17cec46ccad},
		{"node1", "::ffff:192.168.0.91", 0x9e59583175705b42}, // same as the IPv4 form
		{"node1", "fd00::91", 0x68c67610107d3fe5},
		{"", "10.0.0.1", 0x4b554be7346c8490},
	} {
		if got := rendezvous.Weight(rendezvous.NodeSeed(tc.node), netip.MustParseAddr(tc.ip)); got != tc.want {
			t.Errorf("weight(%q, %s) = %#x, want %#x", tc.node, tc.ip, got, tc.want)
		}
	}
}

func TestOwnerOf(t *testing.T) {
	ip := netip.MustParseAddr("192.168.0.91")
	if got := OwnerOf(ip, nil); got != "" {
		t.Errorf("OwnerOf(no candidates) = %q, want none", got)
	}
	if got := OwnerOf(ip, []string{"only"}); got != "only" {
		t.Errorf("OwnerOf(one candidate) = %q, want only", got)
	}
	nodes := []string{"a", "b", "c"}
	if OwnerOf(netip.MustParseAddr("::ffff:192.168.0.91"), nodes) != OwnerOf(ip, nodes) {
		t.Error("an IPv4-mapped address has another owner than its IPv4 form")
	}
}

// randomNodes returns n distinct node names in random order.
func randomNodes(r *rand.Rand, n int) []string {
	nodes := make([]string, n)
	for i := range nodes {
		nodes[i] = fmt.Sprintf("node-%d-%x", i, r.Uint32())
	}
	r.Shuffle(n, func(i, j int) { nodes[i], nodes[j] = nodes[j], nodes[i] })
	return nodes
}

// randomAddrs returns n addresses, IPv4 and IPv6 mixed, many of them
// consecutive as pools hand them out.
func randomAddrs(r *rand.Rand, n int) []netip.Addr {
	out := make([]netip.Addr, 0, n)
	base4 := netip.AddrFrom4([4]byte{10, byte(r.IntN(256)), byte(r.IntN(256)), 0})
	var b16 [16]byte
	b16[0], b16[1] = 0xfd, byte(r.IntN(256))
	base6 := netip.AddrFrom16(b16)
	for len(out) < n {
		switch r.IntN(3) {
		case 0:
			base4 = base4.Next()
			out = append(out, base4)
		case 1:
			base6 = base6.Next()
			out = append(out, base6)
		default:
			out = append(out, netip.AddrFrom4([4]byte{byte(r.IntN(256)), byte(r.IntN(256)), byte(r.IntN(256)), byte(r.IntN(256))}))
		}
	}
	return out
}

func owners(ips []netip.Addr, nodes []string) map[netip.Addr]string {
	out := make(map[netip.Addr]string, len(ips))
	for _, ip := range ips {
		out[ip] = OwnerOf(ip, nodes)
	}
	return out
}

// TestOwnerProperties checks rendezvous hashing's promises over random
// memberships: deterministic and order-independent, always one of the
// candidates, and a node leaving or joining moves only its own addresses.
func TestOwnerProperties(t *testing.T) {
	const seeds, addrs = 300, 200
	movedOnJoin, totalOnJoin := 0, 0
	for seed := range uint64(seeds) {
		r := rand.New(rand.NewPCG(seed, 0x6865726c64))
		nodes := randomNodes(r, 1+r.IntN(12))
		ips := randomAddrs(r, addrs)
		before := owners(ips, nodes)

		shuffled := slices.Clone(nodes)
		r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		if diff := cmp.Diff(before, owners(ips, shuffled)); diff != "" {
			t.Fatalf("seed %d: owners depend on candidate order (-first +shuffled):\n%s", seed, diff)
		}
		for ip, o := range before {
			if !slices.Contains(nodes, o) {
				t.Fatalf("seed %d: %s owned by %q, not a candidate of %v", seed, ip, o, nodes)
			}
		}

		// A node leaves: only its addresses move.
		gone := nodes[r.IntN(len(nodes))]
		rest := slices.DeleteFunc(slices.Clone(nodes), func(n string) bool { return n == gone })
		after := owners(ips, rest)
		for _, ip := range ips {
			switch {
			case before[ip] == gone && after[ip] == gone:
				t.Fatalf("seed %d: %s still owned by %q after it left", seed, ip, gone)
			case before[ip] != gone && after[ip] != before[ip]:
				t.Fatalf("seed %d: %s moved from %q to %q when %q left", seed, ip, before[ip], after[ip], gone)
			}
		}

		// A node joins: only the addresses it now wins move, to it.
		joined := fmt.Sprintf("joiner-%x", r.Uint32())
		grown := append(slices.Clone(nodes), joined)
		after = owners(ips, grown)
		for _, ip := range ips {
			if after[ip] != before[ip] {
				movedOnJoin++
				if after[ip] != joined {
					t.Fatalf("seed %d: %s moved from %q to %q when %q joined", seed, ip, before[ip], after[ip], joined)
				}
			}
		}
		totalOnJoin += addrs * 1000 / len(grown) // expected moves, in thousandths
	}
	// About 1/n of the addresses move to a joining node, over all seeds.
	if ratio := float64(movedOnJoin) * 1000 / float64(totalOnJoin); ratio < 0.9 || ratio > 1.1 {
		t.Errorf("a joining node took %d addresses, %.2f × the expected 1/n share", movedOnJoin, ratio)
	}
}

// TestOwnerSpread: 1,000 addresses over 5 nodes give each node 140-260
// (the mean is 200), for consecutive and random addresses alike.
func TestOwnerSpread(t *testing.T) {
	for seed := range uint64(50) {
		r := rand.New(rand.NewPCG(seed, 1))
		nodes := randomNodes(r, 5)
		for _, ips := range [][]netip.Addr{randomAddrs(r, 1000), consecutive(netip.MustParseAddr("192.168.0.0"), 1000), consecutive(netip.MustParseAddr("fd00::"), 1000)} {
			count := map[string]int{}
			for _, o := range owners(ips, nodes) {
				count[o]++
			}
			for _, n := range nodes {
				if count[n] < 140 || count[n] > 260 {
					t.Errorf("seed %d: %s owns %d of 1000 addresses from %s, want 140-260 (all: %v)", seed, n, count[n], ips[0], count)
				}
			}
		}
	}
}

func consecutive(from netip.Addr, n int) []netip.Addr {
	out := make([]netip.Addr, n)
	for i := range out {
		out[i] = from
		from = from.Next()
	}
	return out
}

func TestAssignOwners(t *testing.T) {
	ip1, ip2 := netip.MustParseAddr("192.168.0.91"), netip.MustParseAddr("fd00::91")
	all := []string{"n1", "n2", "n3", "n4"}
	everyone := Members{Live: map[string][]string{"n1": nil, "n2": nil, "n3": nil, "n4": nil}}
	// winner returns the rendezvous owner among some nodes, to state
	// expectations without hard-coding hash outcomes.
	winner := func(ip netip.Addr, nodes ...string) string { return OwnerOf(ip, nodes) }
	without := func(n string) []string {
		return slices.DeleteFunc(slices.Clone(all), func(x string) bool { return x == n })
	}
	top1, top2 := winner(ip1, all...), winner(ip2, all...)

	for _, tc := range []struct {
		name    string
		claims  []AddressClaim
		members Members
		want    map[netip.Addr]string
	}{{
		name:    "every live node is a candidate",
		claims:  []AddressClaim{{IP: ip1, Eip: "a"}, {IP: ip2, Eip: "b"}},
		members: everyone,
		want:    map[netip.Addr]string{ip1: top1, ip2: top2},
	}, {
		name:    "dead nodes are not candidates",
		claims:  []AddressClaim{{IP: ip1, Eip: "a"}},
		members: Members{Live: map[string][]string{"n1": nil, "n2": nil}},
		want:    map[netip.Addr]string{ip1: winner(ip1, "n1", "n2")},
	}, {
		name:   "a node marking the eip unavailable is not a candidate",
		claims: []AddressClaim{{IP: ip1, Eip: "a"}, {IP: ip2, Eip: "b"}},
		members: Members{Live: map[string][]string{
			"n1": nil, "n2": nil, "n3": nil, "n4": nil, top1: {"a", "c"},
		}},
		want: map[netip.Addr]string{ip1: winner(ip1, without(top1)...), ip2: top2},
	}, {
		name:    "externalTrafficPolicy Local: only nodes with an endpoint",
		claims:  []AddressClaim{{IP: ip1, Eip: "a", Nodes: without(top1)}},
		members: everyone,
		want:    map[netip.Addr]string{ip1: winner(ip1, without(top1)...)},
	}, {
		name:    "no endpoint anywhere: no owner",
		claims:  []AddressClaim{{IP: ip1, Eip: "a", Nodes: []string{}}, {IP: ip2, Eip: "b"}},
		members: everyone,
		want:    map[netip.Addr]string{ip2: top2},
	}, {
		name:    "endpoints only on dead nodes: no owner",
		claims:  []AddressClaim{{IP: ip1, Eip: "a", Nodes: []string{"gone"}}},
		members: everyone,
		want:    map[netip.Addr]string{},
	}, {
		name:    "shared address: a node eligible for every Service",
		claims:  []AddressClaim{{IP: ip1, Eip: "a", Nodes: []string{"n1", "n2", "n3"}}, {IP: ip1, Eip: "a"}, {IP: ip1, Eip: "a", Nodes: []string{"n2", "n3", "n4"}}},
		members: everyone,
		want:    map[netip.Addr]string{ip1: winner(ip1, "n2", "n3")},
	}, {
		name:    "shared address, disjoint endpoints: a node eligible for one Service",
		claims:  []AddressClaim{{IP: ip1, Eip: "a", Nodes: []string{"n1"}}, {IP: ip1, Eip: "a", Nodes: []string{"n3"}}},
		members: everyone,
		want:    map[netip.Addr]string{ip1: winner(ip1, "n1", "n3")},
	}, {
		name:    "shared with a Cluster Service whose partner has no endpoint: the Cluster one is served",
		claims:  []AddressClaim{{IP: ip1, Eip: "a", Nodes: []string{}}, {IP: ip1, Eip: "a"}},
		members: everyone,
		want:    map[netip.Addr]string{ip1: top1},
	}, {
		name:    "IPv4-mapped and plain forms are one address",
		claims:  []AddressClaim{{IP: netip.MustParseAddr("::ffff:192.168.0.91"), Eip: "a", Nodes: []string{"n1", "n2"}}, {IP: ip1, Eip: "a", Nodes: []string{"n2"}}},
		members: everyone,
		want:    map[netip.Addr]string{ip1: "n2"},
	}, {
		name:    "nobody live",
		claims:  []AddressClaim{{IP: ip1, Eip: "a"}},
		members: Members{Frozen: true},
		want:    map[netip.Addr]string{},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, AssignOwners(tc.claims, tc.members)); diff != "" {
				t.Errorf("AssignOwners (-want +got):\n%s", diff)
			}
		})
	}
}

// TestAssignOwnersAgreesWithOwnerOf over random memberships, with some
// nodes marking the Eip unavailable.
func TestAssignOwnersAgreesWithOwnerOf(t *testing.T) {
	for seed := range uint64(100) {
		r := rand.New(rand.NewPCG(seed, 2))
		nodes := randomNodes(r, 1+r.IntN(8))
		members := Members{Live: map[string][]string{}}
		var serving []string
		for _, n := range nodes {
			if r.IntN(4) == 0 {
				members.Live[n] = []string{"pool"}
			} else {
				members.Live[n] = nil
				serving = append(serving, n)
			}
		}
		var claims []AddressClaim
		for _, ip := range randomAddrs(r, 50) {
			claims = append(claims, AddressClaim{IP: ip, Eip: "pool"})
		}
		got := AssignOwners(claims, members)
		for _, c := range claims {
			want := OwnerOf(c.IP, serving)
			if got[c.IP] != want {
				t.Fatalf("seed %d: %s owned by %q, OwnerOf says %q", seed, c.IP, got[c.IP], want)
			}
		}
	}
}

func BenchmarkAssignOwners(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	members := Members{Live: map[string][]string{}}
	for _, n := range randomNodes(r, 100) {
		members.Live[n] = nil
	}
	var claims []AddressClaim
	for _, ip := range randomAddrs(r, 1000) {
		claims = append(claims, AddressClaim{IP: ip, Eip: "pool"})
	}
	for b.Loop() {
		AssignOwners(claims, members)
	}
}
