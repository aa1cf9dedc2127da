package speaker

import (
	"errors"
	"net/netip"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/internal/eippool"
	"github.com/herald-lb/herald/speaker/layer2"
)

// testPool is an accepted pool of protocol on iface.
func testPool(t *testing.T, name, protocol, addr, iface string) eippool.Pool {
	t.Helper()
	p, err := eippool.FromEip(&v1alpha2.Eip{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       v1alpha2.EipSpec{Address: addr, Protocol: protocol, Interface: iface},
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

var cmpAddr = cmp.Comparer(func(a, b netip.Addr) bool { return a == b })

// TestLayer2ModeSessionForVIPPools: the Lease runs while vip pools exist
// even without layer2 pools, and stops when neither does.
func TestLayer2ModeSessionForVIPPools(t *testing.T) {
	f := newL2Fixture(t)
	f.mode.InterfaceAddrs = func(string) ([]netip.Addr, error) { return addrs("10.0.0.1"), nil }
	vip := testPool(t, "v", v1alpha2.ProtocolVIP, "198.51.100.0/28", "eth2")
	f.snap.Pools = []eippool.Pool{vip}
	f.apply(t, nil)
	f.apply(t, nil)
	if f.sessions != 1 || f.members.stopped {
		t.Fatalf("vip pool only: %d sessions started (stopped %v), want one running", f.sessions, f.members.stopped)
	}
	if diff := cmp.Diff(addrs("10.0.0.1"), f.members.addrs, cmpAddr); diff != "" {
		t.Errorf("published addresses (-want +got):\n%s", diff)
	}
	if len(f.responders) != 0 {
		t.Errorf("responders opened for a vip pool: %v", f.responders)
	}
	f.snap.Pools = nil
	f.apply(t, nil)
	if !f.members.stopped {
		t.Error("no layer2 or vip pool left: session still running")
	}
	if got := f.mode.VIPMembers(); got != nil {
		t.Errorf("VIPMembers without a session = %v, want nil", got)
	}
}

// TestLayer2ModeUnavailableCoversVIP: the Lease lists the vip Eips this
// node cannot serve with the layer2 ones, while the responders still
// answer only layer2 claims.
func TestLayer2ModeUnavailableCoversVIP(t *testing.T) {
	f := newL2Fixture(t)
	f.mode.InterfaceAddrs = func(string) ([]netip.Addr, error) { return addrs("10.0.0.1"), nil }
	f.snap.Pools = append(f.snap.Pools,
		testPool(t, "v-missing", v1alpha2.ProtocolVIP, "198.51.100.0/28", "eth9"),
		testPool(t, "v-ok", v1alpha2.ProtocolVIP, "198.51.100.16/28", "eth2"),
		// eth1 is there without carrier: keepalived faults on its own, so
		// the vip pool stays available while the layer2 one ("b") is not.
		testPool(t, "v-no-carrier", v1alpha2.ProtocolVIP, "198.51.100.32/28", "eth1"))
	f.carrier.down["eth9"] = true // missing interfaces have no carrier
	f.carrier.down["eth1"] = true
	f.carrier.exists = map[string]bool{"eth1": true}
	claims := l2TestClaims()
	f.apply(t, claims)
	if diff := cmp.Diff([]string{"b", "v-missing"}, f.members.unavailable); diff != "" {
		t.Errorf("unavailable eips (-want +got):\n%s", diff)
	}
	if got, want := f.mode.Owned(), wantOwned(claims, f.members.m, "b"); !slices.Equal(got, want) {
		t.Errorf("Owned() = %v, want %v", got, want)
	}
	for iface := range f.responders {
		if iface != "eth0" {
			t.Errorf("responder opened on %s", iface)
		}
	}
}

// TestVIPSourceAddrs: what a node publishes as its addresses for VIP mode.
func TestVIPSourceAddrs(t *testing.T) {
	onIface := map[string][]netip.Addr{
		"eth2": addrs("fe80::2", "198.51.100.1", "10.0.2.1", "2001:db8:2::1", "10.0.2.2"),
		"eth3": addrs("2001:db8:3::1", "10.0.3.1"),
		"eth4": addrs("fe80::4", "169.254.0.4", "2001:db8:4::1"),
		"lo":   addrs("127.0.0.1", "::1"),
	}
	vip := func(name, iface string) eippool.Pool {
		return testPool(t, name, v1alpha2.ProtocolVIP, "198.51.100.0/28", iface)
	}
	for _, tc := range []struct {
		name  string
		pools []eippool.Pool
		down  []string
		want  []netip.Addr
	}{
		{"no vip pools: none", []eippool.Pool{testPool(t, "l2", v1alpha2.ProtocolLayer2, "192.0.2.0/24", "eth3")}, nil, nil},
		{"link-local and VIP-range skipped", []eippool.Pool{vip("v", "eth2")}, nil, addrs("10.0.2.1", "2001:db8:2::1")},
		{"IPv4 first whatever the interface lists", []eippool.Pool{vip("v", "eth3")}, nil, addrs("10.0.3.1", "2001:db8:3::1")},
		{"pools in name order", []eippool.Pool{vip("z", "eth2"), vip("a", "eth4")}, nil, addrs("10.0.2.1", "2001:db8:4::1")},
		{"another pool's range is skipped too", []eippool.Pool{vip("v", "eth2"),
			testPool(t, "l2", v1alpha2.ProtocolLayer2, "10.0.2.1", "eth0")}, nil, addrs("10.0.2.2", "2001:db8:2::1")},
		{"an unavailable eip contributes nothing", []eippool.Pool{vip("a", "eth2"), vip("b", "eth3")}, []string{"eth2"}, addrs("10.0.3.1", "2001:db8:3::1")},
		{"loopback only: none", []eippool.Pool{vip("v", "lo")}, nil, nil},
		{"an interface that cannot be read is skipped", []eippool.Pool{vip("a", "gone"), vip("b", "eth4")}, nil, addrs("2001:db8:4::1")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newL2Fixture(t)
			f.snap.Pools = tc.pools
			for _, iface := range tc.down {
				f.carrier.down[iface] = true
			}
			f.mode.InterfaceAddrs = func(iface string) ([]netip.Addr, error) {
				a, ok := onIface[iface]
				if !ok {
					return nil, errors.New("no such interface")
				}
				return a, nil
			}
			f.members.addrs = addrs("203.0.113.1") // set: Apply must overwrite it
			f.apply(t, nil)
			if diff := cmp.Diff(tc.want, f.members.addrs, cmpAddr); diff != "" {
				t.Errorf("published addresses (-want +got):\n%s", diff)
			}
		})
	}
}

// TestLayer2ModeVIPMembers: nothing before the view was confirmed, then
// the known nodes, live or not, converted and sorted; a frozen view that
// was confirmed stays.
func TestLayer2ModeVIPMembers(t *testing.T) {
	f := newL2Fixture(t)
	if got := f.mode.VIPMembers(); got != nil {
		t.Fatalf("VIPMembers before any session = %v, want nil", got)
	}
	f.members.m = layer2.Members{Frozen: true}
	f.apply(t, nil)
	if got := f.mode.VIPMembers(); got != nil {
		t.Fatalf("VIPMembers of a view never confirmed = %v, want nil", got)
	}
	// n3's speaker is down (known, not live): it stays ranked.
	f.members.m = layer2.Members{
		Live:  map[string][]string{"n2": {"v"}, "n1": nil},
		Known: map[string][]string{"n2": {"v"}, "n1": nil, "n3": nil},
		Addrs: map[string][]netip.Addr{"n1": addrs("10.0.0.1", "2001:db8::1"), "n2": addrs("10.0.0.2")},
	}
	want := []VIPMember{
		{Name: "n1", Addrs: addrs("10.0.0.1", "2001:db8::1")},
		{Name: "n2", Addrs: addrs("10.0.0.2"), UnavailableEips: []string{"v"}},
		{Name: "n3"},
	}
	got := f.mode.VIPMembers()
	if diff := cmp.Diff(want, got, cmpAddr); diff != "" {
		t.Errorf("VIPMembers (-want +got):\n%s", diff)
	}
	got[0].Addrs[0] = netip.MustParseAddr("10.9.9.9") // callers own what they get
	if f.members.m.Addrs["n1"][0] != netip.MustParseAddr("10.0.0.1") {
		t.Error("VIPMembers shares its slices with the membership view")
	}
	f.members.m.Frozen = true
	if diff := cmp.Diff(want, f.mode.VIPMembers(), cmpAddr); diff != "" {
		t.Errorf("VIPMembers of a frozen view (-want +got):\n%s", diff)
	}
}

// TestLayer2ModeVIPMembersWhileApplying: VIPMembers may run on another
// goroutine than Apply (the race detector checks the session handover).
func TestLayer2ModeVIPMembersWhileApplying(t *testing.T) {
	f := newL2Fixture(t)
	pools := f.snap.Pools
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if got := f.mode.VIPMembers(); got != nil && len(got) != 2 {
				t.Errorf("VIPMembers = %v, want nil or n1 and n2", got)
				return
			}
		}
	}()
	for i := range 200 {
		if i%2 == 0 {
			f.snap.Pools = pools
		} else {
			f.snap.Pools = nil
		}
		f.apply(t, l2TestClaims())
	}
	close(stop)
	<-done
}

// TestHostInterfaceAddrs reads the loopback of the test's own network
// namespace, which needs no privilege.
func TestHostInterfaceAddrs(t *testing.T) {
	got, err := hostInterfaceAddrs("lo")
	if err != nil {
		t.Skipf("no loopback here: %v", err)
	}
	if !slices.Contains(got, netip.MustParseAddr("127.0.0.1")) {
		t.Errorf("lo has %v, want 127.0.0.1 among them", got)
	}
	if _, err := hostInterfaceAddrs("herald-no-such0"); err == nil {
		t.Error("a missing interface gave no error")
	}
}
