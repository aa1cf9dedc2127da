package rig

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestNewPlan(t *testing.T) {
	p, err := NewPlan("he2e-1-1-", 3)
	if err != nil {
		t.Fatal(err)
	}
	type row struct{ Name, NS, MAC, V4, V6, Port string }
	var got []row
	for _, h := range p.Hosts() {
		got = append(got, row{h.Name, h.NS, h.LAN.MAC.String(), h.LAN.IPv4.String(), h.LAN.IPv6.String(), h.LAN.Port})
	}
	want := []row{
		{"router", "he2e-1-1-router", "02:99:00:00:00:01", "10.99.0.1/24", "fd99::1/64", "p-router"},
		{"node1", "he2e-1-1-node1", "02:99:00:00:00:0b", "10.99.0.11/24", "fd99::11/64", "p-node1"},
		{"node2", "he2e-1-1-node2", "02:99:00:00:00:0c", "10.99.0.12/24", "fd99::12/64", "p-node2"},
		{"node3", "he2e-1-1-node3", "02:99:00:00:00:0d", "10.99.0.13/24", "fd99::13/64", "p-node3"},
		{"client", "he2e-1-1-client", "02:99:00:00:00:64", "10.99.0.100/24", "fd99::100/64", "p-client"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("hosts (-want +got):\n%s", diff)
	}
	if got, want := p.Namespaces()[len(p.Namespaces())-1], "he2e-1-1-br"; got != want {
		t.Errorf("last namespace %s, want the bridge's %s", got, want)
	}

	// The uplink, and the only routes: nodes default to the router, the
	// client reaches the pools over the uplink; the router has none.
	if got := p.Router.Uplink.IPv4.String() + " " + p.Client.Uplink.IPv6.String(); got != "10.99.1.1/24 fd99:1::2/64" {
		t.Errorf("uplink addresses %s", got)
	}
	if len(p.Router.Routes) != 0 {
		t.Errorf("router routes %v, want none (no way out of the testbed)", p.Router.Routes)
	}
	wantClient := []StaticRoute{
		{Dst: PoolV4, Via: netip.MustParseAddr("10.99.1.1"), Dev: UplinkLink},
		{Dst: PoolV6, Via: netip.MustParseAddr("fd99:1::1"), Dev: UplinkLink},
	}
	if diff := cmp.Diff(wantClient, p.Client.Routes, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b }), cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("client routes (-want +got):\n%s", diff)
	}
	for _, n := range p.Nodes {
		if len(n.Routes) != 2 || n.Routes[0].Via != p.Router.LAN.IPv4.Addr() || n.Routes[1].Via != p.Router.LAN.IPv6.Addr() {
			t.Errorf("%s routes %v, want default routes via the router", n.Name, n.Routes)
		}
	}
}

func TestNewPlanLimits(t *testing.T) {
	for _, n := range []int{0, -1, MaxNodes + 1} {
		if _, err := NewPlan("he2e-1-1-", n); err == nil {
			t.Errorf("NewPlan(%d nodes) succeeded", n)
		}
	}
	p, err := NewPlan("he2e-1-1-", MaxNodes)
	if err != nil {
		t.Fatal(err)
	}
	last := p.Nodes[MaxNodes-1]
	if last.LAN.IPv4.Addr() != netip.MustParseAddr("10.99.0.90") || last.LAN.IPv6.Addr() != netip.MustParseAddr("fd99::90") {
		t.Errorf("node%d at %s %s", MaxNodes, last.LAN.IPv4, last.LAN.IPv6)
	}
	seen := map[string]string{}
	for _, h := range p.Hosts() {
		for _, k := range []string{h.LAN.MAC.String(), h.LAN.IPv4.String(), h.LAN.IPv6.String()} {
			if other, dup := seen[k]; dup {
				t.Errorf("%s and %s share %s", other, h.Name, k)
			}
			seen[k] = h.Name
		}
	}
}

func TestMeshPairs(t *testing.T) {
	p, _ := NewPlan("he2e-1-1-", 3)
	// 5 hosts: 5*4 ordered pairs, 2 families; client->router uplink; 3
	// nodes -> client uplink.
	if got, want := len(p.MeshPairs()), 5*4*2+2+3*2; got != want {
		t.Errorf("%d pairs, want %d", got, want)
	}
}

func TestSysctls(t *testing.T) {
	p, _ := NewPlan("he2e-1-1-", 2)
	all := sysctls(p, 30*time.Second)
	if len(all) != len(p.Namespaces()) {
		t.Errorf("sysctls for %d namespaces, want %d", len(all), len(p.Namespaces()))
	}
	has := func(ns, kv string) bool {
		for _, s := range all[ns] {
			if s == kv {
				return true
			}
		}
		return false
	}
	for _, c := range []struct {
		ns, kv string
	}{
		{p.Router.NS, "net.ipv4.ip_forward=1"},
		{p.Router.NS, "net.ipv4.fib_multipath_hash_policy=1"},
		{p.Router.NS, "net.ipv4.conf.up0.rp_filter=0"},
		{p.Nodes[0].NS, "net.ipv4.ip_forward=1"},
		{p.Nodes[0].NS, "net.ipv4.conf.eth0.arp_ignore=1"},
		{p.Nodes[0].NS, "net.ipv4.neigh.eth0.base_reachable_time_ms=30000"},
		{p.Client.NS, "net.ipv4.ip_forward=0"},
		{p.BridgeNS, "net.bridge.bridge-nf-call-iptables=0"},
	} {
		if !has(c.ns, c.kv) {
			t.Errorf("%s: missing %s", c.ns, c.kv)
		}
	}
	for ns, kvs := range all {
		for _, kv := range kvs {
			if k, v, ok := strings.Cut(kv, "="); !ok || k == "" || v == "" || strings.ContainsAny(kv, " \t") {
				t.Errorf("%s: malformed %q", ns, kv)
			}
		}
	}
}

func TestRigPrefix(t *testing.T) {
	for _, c := range []struct {
		in, want string
		ok       bool
	}{
		{"he2e-123-4-node1", "he2e-123-4-", true},
		{"he2e-123-4-br", "he2e-123-4-", true},
		{"he2e-123-0-", "he2e-123-0-", true},
		{"he2e-x-4-node1", "", false},
		{"he2e-123-node1", "", false},
		{"other-123-4-node1", "", false},
	} {
		got, ok := rigPrefix(c.in)
		if got != c.want || ok != c.ok {
			t.Errorf("rigPrefix(%q) = %q, %v; want %q, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}
