package keepalived

import (
	"fmt"
	"net/netip"
	"testing"
)

// benchCluster is 250 VIPs (the default pool's worth) over 100 nodes, all
// in unicast mode: the largest config one node renders at the default
// participant cap is its share of that.
func benchCluster(b *testing.B) (Config, []netip.Addr) {
	b.Helper()
	nodes := make([]string, 100)
	addrs := map[string][]netip.Addr{}
	for i := range nodes {
		nodes[i] = fmt.Sprintf("worker-%03d", i)
		addrs[nodes[i]] = []netip.Addr{netip.AddrFrom4([4]byte{10, 0, byte(i / 256), byte(i)})}
	}
	vips := make([]netip.Addr, 250)
	ip := netip.MustParseAddr("198.51.100.0")
	for i := range vips {
		vips[i] = ip
		ip = ip.Next()
	}
	vrids, err := AssignVRIDs(vips, nil, DefaultVRIDPool())
	if err != nil {
		b.Fatal(err)
	}
	c := Config{Node: nodes[0], NodeAddrs: addrs, Settings: DefaultSettings()}
	c.Settings.Unicast = true
	for _, a := range vips {
		c.VIPs = append(c.VIPs, VIP{Addr: a, VRID: vrids[a], Interface: "eth0", Ranked: Rank(a, nodes)})
	}
	return c, vips
}

func BenchmarkRender(b *testing.B) {
	c, _ := benchCluster(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Render(c); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRank100Nodes(b *testing.B) {
	c, vips := benchCluster(b)
	nodes := c.VIPs[0].Ranked
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		Rank(vips[i%len(vips)], nodes)
	}
}

func BenchmarkAssignVRIDs(b *testing.B) {
	_, vips := benchCluster(b)
	current, _ := AssignVRIDs(vips[:200], nil, DefaultVRIDPool())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := AssignVRIDs(vips, current, DefaultVRIDPool()); err != nil {
			b.Fatal(err)
		}
	}
}
