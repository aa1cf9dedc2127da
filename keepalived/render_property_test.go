package keepalived

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

// clusterConfig builds node's Config the way the speaker will: VRIDs from
// AssignVRIDs, each VIP's ranking from Rank over the eligible nodes.
func clusterConfig(t *testing.T, node string, nodes []string, vips []netip.Addr, vrids map[netip.Addr]VRID, unicast bool) Config {
	t.Helper()
	addrs := map[string][]netip.Addr{}
	for _, n := range nodes {
		h := byte(rankWeight(n, netip.IPv4Unspecified())) // a node's address depends on the node alone
		addrs[n] = []netip.Addr{netip.AddrFrom4([4]byte{192, 0, 2, h}), netip.AddrFrom16([16]byte{0xfd, 14: h, 15: byte(len(n))})}
	}
	c := Config{Node: node, NodeAddrs: addrs, Settings: DefaultSettings()}
	c.Settings.Unicast = unicast
	for _, a := range vips {
		local := a.AsSlice()[a.BitLen()/8-1]%3 == 0 // a property of the Service, not of its place in the list
		c.VIPs = append(c.VIPs, VIP{Addr: a, VRID: vrids[a], Interface: "eth0", Ranked: Rank(a, nodes), Local: local})
	}
	return c
}

// blocks splits a rendered file into its top-level blocks, keyed by their
// first line ("vrrp_instance vip_192.0.2.1 {").
func blocks(conf []byte) map[string]string {
	out := map[string]string{}
	for _, b := range strings.Split(string(conf), "\n\n") {
		first, _, _ := strings.Cut(b, "\n")
		out[first] = b
	}
	return out
}

// TestRenderChangesOnlyWhatChanged is the promise the design rests on: a
// Service added or removed rewrites only its own instance, and a node that
// leaves rewrites only the instances it took part in (whose peers or
// priorities change); every other instance stays byte-for-byte the same,
// so keepalived's reload leaves it alone.
func TestRenderChangesOnlyWhatChanged(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	for round := range 100 {
		nodes := randomNodes(r, 2+r.IntN(6))
		vips := randomAddrs(r, 1+r.IntN(30))
		for i := range vips {
			vips[i] = vips[i].Unmap()
		}
		slices.SortFunc(vips, netip.Addr.Compare)
		vips = slices.Compact(vips)
		unicast := r.IntN(2) == 0
		me := nodes[r.IntN(len(nodes))]

		vrids, err := AssignVRIDs(vips, nil, DefaultVRIDPool())
		if err != nil {
			t.Fatal(err)
		}
		before, err := Render(clusterConfig(t, me, nodes, vips, vrids, unicast))
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}

		// A Service goes away; the controller reassigns over what is left.
		gone := vips[r.IntN(len(vips))]
		rest := slices.DeleteFunc(slices.Clone(vips), func(a netip.Addr) bool { return a == gone })
		vrids2, err := AssignVRIDs(rest, vrids, DefaultVRIDPool())
		if err != nil {
			t.Fatal(err)
		}
		after, err := Render(clusterConfig(t, me, nodes, rest, vrids2, unicast))
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		b, a := blocks(before), blocks(after)
		for key, block := range b {
			if strings.Contains(key, InstanceName(gone)+" ") {
				continue
			}
			if a[key] != block {
				t.Fatalf("round %d: removing %s changed %q:\n%s\n---\n%s", round, gone, key, block, a[key])
			}
		}

		// A node leaves: only the VIPs it took part in may change.
		if len(nodes) < 3 {
			continue
		}
		leaver := nodes[r.IntN(len(nodes))]
		if leaver == me {
			continue
		}
		fewer := slices.DeleteFunc(slices.Clone(nodes), func(n string) bool { return n == leaver })
		after, err = Render(clusterConfig(t, me, fewer, vips, vrids, unicast))
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		a = blocks(after)
		for _, vip := range vips {
			if slices.Contains(Participants(vip, nodes, DefaultParticipants), leaver) {
				continue
			}
			for key, block := range b {
				if strings.Contains(key, InstanceName(vip)+" ") && a[key] != block {
					t.Fatalf("round %d: %s leaving changed %s, which it did not take part in:\n%s\n---\n%s", round, leaver, vip, block, a[key])
				}
			}
		}
	}
}
