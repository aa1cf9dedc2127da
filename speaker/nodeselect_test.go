package speaker

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/go-logr/logr"
	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/internal/bgpconfig"
	"github.com/herald-lb/herald/internal/eippool"
	"github.com/herald-lb/herald/speaker/layer2"
)

// selectedPools are pools for node selection: rack1-only bgp pools of
// each family, an unrestricted bgp pool, and a rack1-only layer2 pool.
func selectedPools(t *testing.T) []eippool.Pool {
	t.Helper()
	rack1 := &metav1.LabelSelector{MatchLabels: map[string]string{"rack": "r1"}}
	var out []eippool.Pool
	for _, e := range []v1alpha2.Eip{
		{ObjectMeta: metav1.ObjectMeta{Name: "rack4"}, Spec: v1alpha2.EipSpec{Address: "192.0.2.0/24", NodeSelector: rack1}},
		{ObjectMeta: metav1.ObjectMeta{Name: "rack6"}, Spec: v1alpha2.EipSpec{Address: "2001:db8::/64", NodeSelector: rack1}},
		{ObjectMeta: metav1.ObjectMeta{Name: "open"}, Spec: v1alpha2.EipSpec{Address: "203.0.113.0/24"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "l2"}, Spec: v1alpha2.EipSpec{Address: "198.51.100.0/24", Protocol: "layer2", Interface: "eth0", NodeSelector: rack1}},
	} {
		p, err := eippool.FromEip(&e)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

func labelledNode(labels map[string]string) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node1", Labels: labels}}
}

// TestRestrictToNode: the BGP routes of Eips whose nodeSelector leaves
// this node out are dropped, with the reason, on top of
// externalTrafficPolicy Local's rule; an excluded node advertises nothing,
// Service ranges included; Ineligible names the Eips, of every protocol,
// for the Layer2 and VIP modes.
func TestRestrictToNode(t *testing.T) {
	exclude := corev1.LabelNodeExcludeBalancers
	services := []Service{
		{Key: "a/rack", Addrs: addrs("192.0.2.1", "2001:db8::1")},
		{Key: "a/local", Addrs: addrs("192.0.2.2"), LocalTraffic: true, ReadyNodes: []string{"node1"}},
		{Key: "a/elsewhere", Addrs: addrs("192.0.2.3"), LocalTraffic: true, ReadyNodes: []string{"node2"}},
		{Key: "a/open", Addrs: addrs("203.0.113.1")},
		{Key: "a/l2", Addrs: addrs("198.51.100.1")},
	}
	ranges := bgpconfig.ServiceCIDRs{ClusterIPs: prefixes("10.96.0.0/12", "fd00:96::/108")}
	notSelected := func(eip string) string { return `eip "` + eip + `": ` + errNodeNotSelected.Error() }
	const noEndpoint = "externalTrafficPolicy Local and no ready endpoint on this node"
	tests := []struct {
		name       string
		node       *corev1.Node
		want       []string
		skipped    map[string]string
		ineligible []string
	}{{
		name: "selected: every route, Local's rule still applies",
		node: labelledNode(map[string]string{"rack": "r1"}),
		want: []string{"10.96.0.0/12", "192.0.2.1/32", "192.0.2.2/32", "2001:db8::1/128", "203.0.113.1/32", "fd00:96::/108"},
		skipped: map[string]string{
			"192.0.2.3": noEndpoint,
		},
	}, {
		name: "not selected: the rack pools' addresses are left out, Local ones too",
		node: labelledNode(map[string]string{"rack": "r2"}),
		want: []string{"10.96.0.0/12", "203.0.113.1/32", "fd00:96::/108"},
		skipped: map[string]string{
			"192.0.2.1": notSelected("rack4"), "2001:db8::1": notSelected("rack6"), "192.0.2.2": notSelected("rack4"),
			"192.0.2.3": noEndpoint,
		},
		ineligible: []string{"l2", "rack4", "rack6"},
	}, {
		name: "no Node object: no labels, so not selected",
		node: nil,
		want: []string{"10.96.0.0/12", "203.0.113.1/32", "fd00:96::/108"},
		skipped: map[string]string{
			"192.0.2.1": notSelected("rack4"), "2001:db8::1": notSelected("rack6"), "192.0.2.2": notSelected("rack4"),
			"192.0.2.3": noEndpoint,
		},
		ineligible: []string{"l2", "rack4", "rack6"},
	}, {
		name: "excluded, whatever the selectors say: no route at all",
		node: labelledNode(map[string]string{"rack": "r1", exclude: ""}),
		skipped: map[string]string{
			"192.0.2.1": errNodeExcluded.Error(), "2001:db8::1": errNodeExcluded.Error(), "192.0.2.2": errNodeExcluded.Error(),
			"203.0.113.1": errNodeExcluded.Error(), "192.0.2.3": noEndpoint,
		},
		ineligible: []string{"l2", "open", "rack4", "rack6"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ps := selectedPools(t)
			d := Compute("node1", ps, services, ranges)
			d.RestrictToNode(tt.node, ps)
			var got []string
			for _, r := range d.BGP {
				got = append(got, r.Prefix.String())
			}
			slices.Sort(got)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("BGP routes (-want +got):\n%s", diff)
			}
			skipped := map[string]string{}
			for a, why := range d.Skipped {
				skipped[a.String()] = why
			}
			if diff := cmp.Diff(tt.skipped, skipped); diff != "" {
				t.Errorf("Skipped (-want +got):\n%s", diff)
			}
			ineligible := slices.Sorted(func(yield func(string) bool) {
				for n := range d.Ineligible {
					if !yield(n) {
						return
					}
				}
			})
			if diff := cmp.Diff(tt.ineligible, ineligible); diff != "" {
				t.Errorf("Ineligible (-want +got):\n%s", diff)
			}
			if len(d.Layer2) != 1 {
				t.Errorf("Layer2 claims %v: node selection must leave them to the mode", d.Layer2)
			}
		})
	}
}

// l2Node is one speaker of TestLayer2NodeSelectionAgrees: a Layer2Mode
// over fakes, its Lease the fake session, its responders recorded.
type l2Node struct {
	name       string
	mode       *Layer2Mode
	session    *fakeSession
	carrier    *fakeCarrier
	responders map[string]*fakeResponder
	labels     map[string]string
}

func newL2Node(name string, labels map[string]string) *l2Node {
	n := &l2Node{
		name: name, labels: labels,
		session:    &fakeSession{changed: make(chan struct{})},
		carrier:    &fakeCarrier{synced: true, down: map[string]bool{}},
		responders: map[string]*fakeResponder{},
	}
	n.mode = &Layer2Mode{
		Node: name, Carrier: n.carrier,
		Sessions: func() (L2Session, error) { return n.session, nil },
		Responders: func(iface string, _ func(netip.Addr, net.HardwareAddr)) (L2Responder, error) {
			r := &fakeResponder{}
			n.responders[iface] = r
			return r, nil
		},
		Log: logr.Discard(),
	}
	return n
}

// answers lists what the node's responders answer for.
func (n *l2Node) answers() []netip.Addr {
	var out []netip.Addr
	for _, r := range n.responders {
		if !r.closed {
			out = append(out, r.owned...)
		}
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return out
}

// TestLayer2NodeSelectionAgrees runs two speakers' Layer2 modes over one
// shared Lease view (what each published as unavailable) and checks that
// every address has exactly one answering node, the one every speaker
// computes: the named interface missing on a node keeps it from ever
// owning that Eip's addresses (MetalLB's documented pitfall), a
// nodeSelector picks the owner among matching nodes, and a relabel moves
// the addresses once the Leases carry it, with the node that lost the
// label silent at once and nobody answering twice in between.
func TestLayer2NodeSelectionAgrees(t *testing.T) {
	rack1 := &metav1.LabelSelector{MatchLabels: map[string]string{"rack": "r1"}}
	var ps []eippool.Pool
	for _, e := range []v1alpha2.Eip{
		{ObjectMeta: metav1.ObjectMeta{Name: "a"}, Spec: v1alpha2.EipSpec{Address: "192.0.2.0/24", Protocol: "layer2", Interface: "eth0", NodeSelector: rack1}},
		{ObjectMeta: metav1.ObjectMeta{Name: "b"}, Spec: v1alpha2.EipSpec{Address: "2001:db8::/120", Protocol: "layer2", Interface: "eth1"}},
	} {
		p, err := eippool.FromEip(&e)
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	claims := l2TestClaims()
	n1 := newL2Node("n1", map[string]string{"rack": "r1"})
	n2 := newL2Node("n2", map[string]string{"rack": "r2"})
	n1.carrier.down["eth1"] = true // n1 has no eth1 at all
	nodes := []*l2Node{n1, n2}

	// apply runs one reconcile on every node over the view in each
	// session, which is what the Leases said when the round began.
	apply := func(t *testing.T) {
		t.Helper()
		for _, n := range nodes {
			snap := Snapshot{Node: labelledNode(n.labels), Pools: ps}
			d := Desired{Layer2: claims}
			d.RestrictToNode(snap.Node, ps)
			if err := n.mode.Apply(context.Background(), snap, d); err != nil {
				t.Fatal(err)
			}
		}
	}
	// publish delivers every node's Lease to every view.
	publish := func() {
		view := layer2.Members{Live: map[string][]string{}}
		for _, n := range nodes {
			view.Live[n.name] = slices.Clone(n.session.unavailable)
		}
		for _, n := range nodes {
			n.session.m = view
		}
	}
	// check: no address answered twice, and every claimed address by the
	// node wantOwner names.
	check := func(t *testing.T, wantOwner func(a netip.Addr) string) {
		t.Helper()
		by := map[netip.Addr]string{}
		for _, n := range nodes {
			for _, a := range n.answers() {
				if other, dup := by[a]; dup {
					t.Errorf("%s answered by %s and %s", a, other, n.name)
				}
				by[a] = n.name
			}
		}
		for _, c := range claims {
			if got, want := by[c.IP], wantOwner(c.IP); got != want {
				t.Errorf("%s (eip %s) answered by %q, want %q", c.IP, c.Eip, got, want)
			}
		}
	}

	// First round: nobody's Lease says anything yet.
	publish()
	apply(t)
	publish()
	apply(t)
	if !slices.Equal(n1.session.unavailable, []string{"b"}) || !slices.Equal(n2.session.unavailable, []string{"a"}) {
		t.Fatalf("leases say n1: %v, n2: %v; want [b] and [a]", n1.session.unavailable, n2.session.unavailable)
	}
	// Every address of a to n1 (the only node on rack r1), every address
	// of b to n2 (the only one with eth1).
	onRack := func(n string) func(netip.Addr) string {
		return func(a netip.Addr) string {
			if a.Is4() {
				return n
			}
			return "n2"
		}
	}
	check(t, onRack("n1"))
	// And every speaker computes that same owner for every address.
	for _, n := range nodes {
		var lc []layer2.AddressClaim
		for _, c := range claims {
			lc = append(lc, layer2.AddressClaim{IP: c.IP, Eip: c.Eip})
		}
		for a, owner := range layer2.AssignOwners(lc, n.session.m) {
			if want := onRack("n1")(a); owner != want {
				t.Errorf("%s computes %s's owner %s, want %s", n.name, a, owner, want)
			}
		}
	}

	// Relabel: n1 moves to rack r2, n2 to rack r1. Before the Leases carry
	// it, n1 is already silent for a and n2 does not take a yet: for one
	// round nobody answers a, nobody answers twice.
	n1.labels, n2.labels = map[string]string{"rack": "r2"}, map[string]string{"rack": "r1"}
	apply(t)
	check(t, func(a netip.Addr) string {
		if a.Is4() {
			return ""
		}
		return "n2"
	})
	publish()
	apply(t)
	check(t, onRack("n2"))
	if !slices.Equal(n1.session.unavailable, []string{"a", "b"}) || len(n2.session.unavailable) != 0 {
		t.Errorf("leases say n1: %v, n2: %v; want [a b] and none", n1.session.unavailable, n2.session.unavailable)
	}

	// The exclude label on n2: nobody may answer for anything of a or b.
	n2.labels = map[string]string{"rack": "r1", corev1.LabelNodeExcludeBalancers: "true"}
	apply(t)
	publish()
	apply(t)
	check(t, func(netip.Addr) string { return "" })
	if !slices.Equal(n2.session.unavailable, []string{"a", "b"}) {
		t.Errorf("excluded n2's lease says %v, want [a b]", n2.session.unavailable)
	}
}

// TestWithhold: only the mode's own pools are marked, with the reason.
func TestWithhold(t *testing.T) {
	why := errors.New("not here")
	ifaces := layer2.EipInterfaces{
		Available:   map[string]string{"a": "eth0", "b": "eth1"},
		Unavailable: map[string]error{"c": layer2.ErrNoCarrier},
	}
	ifaces = withhold(ifaces, map[string]error{"a": why, "c": why, "bgp": why})
	if diff := cmp.Diff(map[string]string{"b": "eth1"}, ifaces.Available); diff != "" {
		t.Errorf("Available (-want +got):\n%s", diff)
	}
	if !errors.Is(ifaces.Unavailable["a"], why) || !errors.Is(ifaces.Unavailable["c"], why) || len(ifaces.Unavailable) != 2 {
		t.Errorf("Unavailable = %v, want a and c, not here", ifaces.Unavailable)
	}
}

// TestVIPModeNodeSelection: a vip Eip whose nodeSelector leaves this node
// out gets no instance here (the others rank it without this node, from
// its Lease), while the Eips that select it keep theirs; the exclude label
// leaves no instance at all.
func TestVIPModeNodeSelection(t *testing.T) {
	f := newVIPFixture(t)
	for i := range f.pools {
		if f.pools[i].Name == "vip4" {
			f.pools[i].NodeSelector = labels.SelectorFromSet(labels.Set{"rack": "r1"})
		}
	}
	web := Service{Key: "a/web", Addrs: addrs("100.64.0.1", "2001:db8:1::1")}
	applyAs := func(node *corev1.Node) string {
		t.Helper()
		f.vrids[netip.MustParseAddr("100.64.0.1")], f.vrids[netip.MustParseAddr("2001:db8:1::1")] = 10, 11
		d := Compute("node1", f.pools, []Service{web}, bgpconfig.ServiceCIDRs{})
		d.RestrictToNode(node, f.pools)
		if err := f.mode.Apply(context.Background(), Snapshot{Node: node, Pools: f.pools, VRIDs: f.vrids}, d); err != nil {
			t.Fatal(err)
		}
		return f.last(t)
	}
	conf := applyAs(labelledNode(map[string]string{"rack": "r1"}))
	for _, want := range []string{"vrrp_instance vip_100.64.0.1 {", "vrrp_instance vip_2001:db8:1::1 {"} {
		if !strings.Contains(conf, want) {
			t.Errorf("selected: config lacks %q:\n%s", want, conf)
		}
	}
	conf = applyAs(labelledNode(map[string]string{"rack": "r2"}))
	if strings.Contains(conf, "vrrp_instance vip_100.64.0.1 {") || !strings.Contains(conf, "vrrp_instance vip_2001:db8:1::1 {") {
		t.Errorf("not selected for vip4: want the IPv6 instance only:\n%s", conf)
	}
	conf = applyAs(labelledNode(map[string]string{"rack": "r1", corev1.LabelNodeExcludeBalancers: ""}))
	if strings.Contains(conf, "vrrp_instance") {
		t.Errorf("excluded: want no instance:\n%s", conf)
	}
}

// TestIgnoreExcludeLabel: with --ignore-exclude-lb an excluded node
// announces as any other (its nodeSelectors still apply), and the Node in
// the cache is left as it is.
func TestIgnoreExcludeLabel(t *testing.T) {
	ps := selectedPools(t)
	node := labelledNode(map[string]string{"rack": "r1", corev1.LabelNodeExcludeBalancers: "true"})
	for _, tt := range []struct {
		ignore bool
		want   int // BGP routes of the three Herald Services it may announce
	}{{false, 0}, {true, 3}} {
		r := &Reconciler{IgnoreExcludeLabel: tt.ignore}
		d := Compute("node1", ps, []Service{
			{Key: "a/rack", Addrs: addrs("192.0.2.1", "2001:db8::1")},
			{Key: "a/open", Addrs: addrs("203.0.113.1")},
		}, bgpconfig.ServiceCIDRs{})
		d.RestrictToNode(r.selectionNode(node), ps)
		if len(d.BGP) != tt.want {
			t.Errorf("ignore %v: routes %v, want %d", tt.ignore, d.BGP, tt.want)
		}
		if tt.ignore && len(d.Ineligible) != 0 {
			t.Errorf("ignore: ineligible %v, want none", d.Ineligible)
		}
	}
	if _, ok := node.Labels[corev1.LabelNodeExcludeBalancers]; !ok {
		t.Error("selectionNode changed the cached Node's labels")
	}
	if r := (&Reconciler{IgnoreExcludeLabel: true}); r.selectionNode(nil) != nil {
		t.Error("selectionNode(nil) is not nil")
	}
}
