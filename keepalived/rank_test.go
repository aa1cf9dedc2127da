package keepalived

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestRankPinned fixes the hash: speakers of two versions must rank alike
// during a rolling upgrade, so a change here is a breaking change.
func TestRankPinned(t *testing.T) {
	nodes := []string{"node-a", "node-b", "node-c", "node-d"}
	tests := []struct {
		vip  string
		want []string
	}{
		{"192.0.2.10", []string{"node-c", "node-a", "node-b", "node-d"}},
		{"192.0.2.11", []string{"node-d", "node-c", "node-a", "node-b"}},
		{"::ffff:192.0.2.10", []string{"node-c", "node-a", "node-b", "node-d"}}, // the IPv4-mapped form ranks as IPv4
		{"2001:db8::10", []string{"node-d", "node-c", "node-b", "node-a"}},
	}
	for _, tt := range tests {
		t.Run(tt.vip, func(t *testing.T) {
			got := Rank(netip.MustParseAddr(tt.vip), nodes)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Rank(%s) (-want +got):\n%s", tt.vip, diff)
			}
		})
	}
}

func TestRankEdgeCases(t *testing.T) {
	vip := netip.MustParseAddr("192.0.2.1")
	if got := Rank(vip, nil); len(got) != 0 {
		t.Errorf("Rank(nil) = %v, want empty", got)
	}
	if got := Rank(vip, []string{"n1", "n1", "n2", "n1"}); len(got) != 2 {
		t.Errorf("Rank with duplicates = %v, want each node once", got)
	}
	in := []string{"n3", "n1", "n2"}
	Rank(vip, in)
	if diff := cmp.Diff([]string{"n3", "n1", "n2"}, in); diff != "" {
		t.Errorf("Rank modified its input (-want +got):\n%s", diff)
	}
}

// TestRankOrderIndependent: every speaker lists nodes in its own order
// (cache iteration, restarts), and must still rank alike.
func TestRankOrderIndependent(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		vip := randomAddr(r)
		nodes := randomNodes(r, 1+r.IntN(12))
		want := Rank(vip, nodes)
		shuffled := slices.Clone(nodes)
		r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		shuffled = append(shuffled, shuffled[:r.IntN(len(shuffled))]...) // and some duplicates
		if diff := cmp.Diff(want, Rank(vip, shuffled)); diff != "" {
			t.Fatalf("vip %s: order depends on the input (-want +got):\n%s", vip, diff)
		}
	}
}

// TestRankSpread: over many consecutive VIPs (the common case: one pool),
// every node is master for about its share, and backups spread too.
func TestRankSpread(t *testing.T) {
	nodes := []string{"worker-1", "worker-2", "worker-3", "worker-4", "worker-5", "worker-6"}
	for _, base := range []string{"10.0.0.0", "2001:db8::"} {
		t.Run(base, func(t *testing.T) {
			const vips = 6000
			first := map[string]int{}
			second := map[string]int{}
			ip := netip.MustParseAddr(base)
			for range vips {
				ranked := Rank(ip, nodes)
				first[ranked[0]]++
				second[ranked[1]]++
				ip = ip.Next()
			}
			mean := vips / len(nodes)
			for _, n := range nodes {
				for what, counts := range map[string]map[string]int{"master": first, "first backup": second} {
					if c := counts[n]; c < mean*85/100 || c > mean*115/100 {
						t.Errorf("%s is %s for %d of %d VIPs, want %d ±15%%", n, what, c, vips, mean)
					}
				}
			}
		})
	}
}

// TestRankStableOnMembership: removing (or adding) a node changes the
// participants of only the VIPs that ranked it within the cap, and never
// reorders the others, so an unrelated VIP's instance keeps its peers.
func TestRankStableOnMembership(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 300 {
		nodes := randomNodes(r, 2+r.IntN(10))
		gone := nodes[r.IntN(len(nodes))]
		rest := slices.DeleteFunc(slices.Clone(nodes), func(n string) bool { return n == gone })
		limit := 1 + r.IntN(5)
		for range 20 {
			vip := randomAddr(r)
			before := Participants(vip, nodes, limit)
			after := Participants(vip, rest, limit)
			if !slices.Contains(before, gone) {
				if diff := cmp.Diff(before, after); diff != "" {
					t.Fatalf("vip %s: removing %s, which was not a participant, changed them (-before +after):\n%s", vip, gone, diff)
				}
			}
			full := slices.DeleteFunc(Rank(vip, nodes), func(n string) bool { return n == gone })
			if diff := cmp.Diff(full, Rank(vip, rest)); diff != "" {
				t.Fatalf("vip %s: removing %s reordered the others (-before +after):\n%s", vip, gone, diff)
			}
		}
	}
}

func TestParticipantsLimit(t *testing.T) {
	vip := netip.MustParseAddr("198.51.100.7")
	many := randomNodes(rand.New(rand.NewPCG(5, 6)), 80)
	tests := []struct {
		name  string
		nodes []string
		limit int
		want  int
	}{
		{"default", many, 0, DefaultParticipants},
		{"negative is the default", many, -1, DefaultParticipants},
		{"set", many, 5, 5},
		{"capped", many, 100, MaxParticipants},
		{"fewer nodes than the limit", many[:2], 3, 2},
		{"no nodes", nil, 3, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Participants(vip, tt.nodes, tt.limit)
			if len(got) != tt.want {
				t.Fatalf("Participants = %d nodes, want %d", len(got), tt.want)
			}
			if diff := cmp.Diff(Rank(vip, tt.nodes)[:tt.want], got); diff != "" {
				t.Errorf("Participants is not a prefix of Rank (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPriorities(t *testing.T) {
	nodes := randomNodes(rand.New(rand.NewPCG(7, 8)), MaxParticipants)
	prios, err := Priorities(nodes)
	if err != nil {
		t.Fatalf("Priorities(%d nodes): %v", len(nodes), err)
	}
	if prios[nodes[0]] != TopPriority {
		t.Errorf("first node's priority = %d, want %d", prios[nodes[0]], TopPriority)
	}
	seen := map[int]string{}
	for i, n := range nodes {
		p := prios[n]
		if p < MinPriority || p > TopPriority {
			t.Errorf("rank %d: priority %d outside %d-%d", i, p, MinPriority, TopPriority)
		}
		if i > 0 && p >= prios[nodes[i-1]] {
			t.Errorf("rank %d: priority %d not below rank %d's %d", i, p, i-1, prios[nodes[i-1]])
		}
		if other, dup := seen[p]; dup {
			t.Errorf("%s and %s tie at priority %d", other, n, p)
		}
		seen[p] = n
	}
	_, err = Priorities(append(nodes, "one-too-many"))
	if !errors.Is(err, ErrTooManyParticipants) {
		t.Errorf("Priorities(%d nodes) error = %v, want ErrTooManyParticipants", len(nodes)+1, err)
	}
}

func randomNodes(r *rand.Rand, n int) []string {
	nodes := make([]string, n)
	for i := range nodes {
		nodes[i] = fmt.Sprintf("node-%d-%x", i, r.Uint32())
	}
	return nodes
}

func randomAddr(r *rand.Rand) netip.Addr {
	if r.IntN(2) == 0 {
		return netip.AddrFrom4([4]byte{10, byte(r.IntN(256)), byte(r.IntN(256)), byte(r.IntN(256))})
	}
	var b [16]byte
	b[0], b[1] = 0xfd, 0x00
	for i := 2; i < 16; i++ {
		b[i] = byte(r.IntN(256))
	}
	return netip.AddrFrom16(b)
}
