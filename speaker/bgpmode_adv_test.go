package speaker

import (
	"context"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"

	"github.com/herald-lb/herald/api/v1alpha2"
)

func bgpSnap(peers ...v1alpha2.BgpPeer) Snapshot {
	return Snapshot{
		Node: &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node1"}},
		BgpConf: &v1alpha2.BgpConf{ObjectMeta: metav1.ObjectMeta{Name: v1alpha2.BgpConfName},
			Spec: v1alpha2.BgpConfSpec{As: 64513, RouterId: "10.0.0.11",
				Communities: []v1alpha2.CommunityAlias{{Name: "no-upstream", Value: "65535:65282"}}}},
		BgpPeers: peers,
	}
}

func sourcePeer(name, neighbor string, src *v1alpha2.PeerSourceAddress) v1alpha2.BgpPeer {
	return v1alpha2.BgpPeer{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       v1alpha2.BgpPeerSpec{Conf: &v1alpha2.PeerConf{NeighborAddress: neighbor, PeerAs: 64512}, SourceAddress: src},
	}
}

// TestBGPModeSourceAddress: a node without an address for the rule starts no
// session, says why once (a Warning event on the BgpPeer), and starts it
// with the address once one appears.
func TestBGPModeSourceAddress(t *testing.T) {
	var mu sync.Mutex
	ifs := map[string][]netip.Addr{"eth1": {netip.MustParseAddr("fe80::1")}}
	read := func() (map[string][]netip.Addr, error) {
		mu.Lock()
		defer mu.Unlock()
		return ifs, nil
	}
	rec := events.NewFakeRecorder(10)
	router := &fakeRouter{}
	m := &BGPMode{Node: "node1", Router: router, Log: logr.Discard(), Interfaces: read, Recorder: rec}
	snap := bgpSnap(sourcePeer("tor", "10.99.1.1", &v1alpha2.PeerSourceAddress{Interface: "eth1"}))
	for range 3 {
		if err := m.Apply(context.Background(), snap, Desired{}); err != nil {
			t.Fatal(err)
		}
	}
	if !m.SourceAddressInUse() {
		t.Error("SourceAddressInUse is false with a rule in place")
	}
	cfg, _ := router.state()
	if len(cfg.Peers) != 0 || !strings.Contains(strings.Join(cfg.PeerProblems["tor"], ";"), `interface "eth1" of node "node1" has no global IPv4 address`) {
		t.Fatalf("peers %+v, problems %q", cfg.Peers, cfg.PeerProblems)
	}
	if n := len(rec.Events); n != 1 {
		t.Fatalf("%d events after 3 reconciles, want 1", n)
	}
	if e := <-rec.Events; !strings.Contains(e, "Warning "+ReasonNoSourceAddress) || !strings.Contains(e, "node node1") {
		t.Errorf("event %q", e)
	}

	mu.Lock()
	ifs = map[string][]netip.Addr{"eth1": {netip.MustParseAddr("fe80::1"), netip.MustParseAddr("10.99.1.11")}}
	mu.Unlock()
	if err := m.Apply(context.Background(), snap, Desired{}); err != nil {
		t.Fatal(err)
	}
	cfg, _ = router.state()
	if len(cfg.Peers) != 1 || cfg.Peers[0].LocalAddress != netip.MustParseAddr("10.99.1.11") {
		t.Fatalf("peers %+v, problems %q; want tor from 10.99.1.11", cfg.Peers, cfg.PeerProblems)
	}
	if len(rec.Events) != 0 {
		t.Errorf("an event when the address appeared: %q", <-rec.Events)
	}
	snap.BgpPeers[0].Spec.SourceAddress = nil
	if err := m.Apply(context.Background(), snap, Desired{}); err != nil {
		t.Fatal(err)
	}
	if m.SourceAddressInUse() {
		t.Error("SourceAddressInUse is true without a rule")
	}
}

// TestBGPModeAdvertisements: the Eip's advertisements, with BgpConf's
// aliases, reach the router as paths.
func TestBGPModeAdvertisements(t *testing.T) {
	router := &fakeRouter{}
	m := &BGPMode{Node: "node1", Router: router, Log: logr.Discard()}
	snap := bgpSnap(sourcePeer("tor", "10.99.1.1", nil))
	i32 := func(v int32) *int32 { return &v }
	lp := uint32(100)
	snap.BgpAdvertisements = map[string][]v1alpha2.BgpAdvertisement{"bgp4": {
		{AggregationLength: i32(32), LocalPref: &lp, Communities: []string{"no-upstream"}},
		{AggregationLength: i32(24)},
	}}
	d := Desired{BGP: []Route{
		{Prefix: netip.MustParsePrefix("192.0.2.1/32"), Kind: RouteLoadBalancer, Eip: "bgp4"},
		{Prefix: netip.MustParsePrefix("192.0.2.2/32"), Kind: RouteLoadBalancer, Eip: "bgp4", Local: true},
	}}
	if err := m.Apply(context.Background(), snap, d); err != nil {
		t.Fatal(err)
	}
	_, paths := router.state()
	var got []string
	for _, p := range paths {
		got = append(got, p.Prefix.String()+" "+p.Attrs.String())
	}
	want := "192.0.2.0/24 |192.0.2.1/32 localPref 100 65535:65282|192.0.2.2/32 localPref 100 65535:65282"
	if strings.Join(got, "|") != want {
		t.Errorf("paths %q, want %q", strings.Join(got, "|"), want)
	}
}

// TestAddrPoller: changes wake the reconciler; nothing is read while no
// rule is in use.
func TestAddrPoller(t *testing.T) {
	var reads, n atomic.Int32
	var active atomic.Bool
	read := func() (map[string][]netip.Addr, error) {
		reads.Add(1)
		if n.Load() == 0 {
			return map[string][]netip.Addr{"eth0": {netip.MustParseAddr("10.0.0.1")}}, nil
		}
		return map[string][]netip.Addr{"eth0": {netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")}}, nil
	}
	p := NewAddrPoller(read, active.Load, 10*time.Millisecond, logr.Discard())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = p.Start(ctx) }()
	time.Sleep(50 * time.Millisecond) // inactive: the poller must stay idle
	if reads.Load() != 0 {
		t.Fatalf("%d reads while no rule is in use", reads.Load())
	}
	active.Store(true)
	deadline := time.Now().Add(5 * time.Second)
	for reads.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case <-p.Changed():
		t.Fatal("woke without a change")
	default:
	}
	n.Store(1)
	select {
	case <-p.Changed():
	case <-time.After(5 * time.Second):
		t.Fatal("no wake-up after the addresses changed")
	}
}
