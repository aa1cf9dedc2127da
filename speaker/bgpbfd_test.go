package speaker

import (
	"context"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/speaker/bfd"
	"github.com/herald-lb/herald/speaker/bgp"
)

func bfdBgpPeer(name string, b *v1alpha2.PeerBfd) v1alpha2.BgpPeer {
	p := v1alpha2.BgpPeer{}
	p.Name = name
	p.Spec.Bfd = b
	return p
}

func dur(d time.Duration) *metav1.Duration { return &metav1.Duration{Duration: d} }

func TestBFDPeers(t *testing.T) {
	v4, v6, mh := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("fd00::1"), netip.MustParseAddr("10.9.9.9")
	cfg := bgp.Config{Peers: []bgp.Peer{
		{Name: "defaults", Address: v4}, {Name: "custom", Address: v6},
		{Name: "multihop", Address: mh, Multihop: bgp.Multihop{Enabled: true}},
		{Name: "off", Address: netip.MustParseAddr("10.0.0.3")},
	}}
	five := int32(5)
	peers := []v1alpha2.BgpPeer{
		bfdBgpPeer("defaults", &v1alpha2.PeerBfd{Enabled: true}),
		bfdBgpPeer("custom", &v1alpha2.PeerBfd{Enabled: true, TransmitInterval: dur(50 * time.Millisecond),
			ReceiveInterval: dur(5 * time.Millisecond), DetectMultiplier: &five}),
		bfdBgpPeer("multihop", &v1alpha2.PeerBfd{Enabled: true}),
		bfdBgpPeer("off", &v1alpha2.PeerBfd{Enabled: false}),
		bfdBgpPeer("not-on-this-node", &v1alpha2.PeerBfd{Enabled: true}),
	}
	want, problems := bfdPeers(cfg, peers)
	wantPeers := map[netip.Addr]bfdPeer{
		v4: {name: "defaults", cfg: bfd.Defaults},
		v6: {name: "custom", cfg: bfd.Config{DesiredMinTx: 50 * time.Millisecond, RequiredMinRx: 300 * time.Millisecond, DetectMult: 5}},
	}
	if diff := cmp.Diff(wantPeers, want, cmp.AllowUnexported(bfdPeer{})); diff != "" {
		t.Errorf("peers (-want +got):\n%s", diff)
	}
	if len(problems["custom"]) != 1 || len(problems["multihop"]) != 1 || len(problems) != 2 {
		t.Errorf("problems = %q, want one for custom's receiveInterval and one for multihop", problems)
	}
}

type fakeSessions struct {
	mu   sync.Mutex
	last []bfd.SessionConfig
}

func (f *fakeSessions) Apply(_ context.Context, want []bfd.SessionConfig) error {
	f.mu.Lock()
	f.last = want
	f.mu.Unlock()
	return nil
}

type fakeResetter struct{ reset []netip.Addr }

func (f *fakeResetter) ResetPeer(_ context.Context, a netip.Addr, _ string) error {
	f.reset = append(f.reset, a)
	return nil
}

// TestBGPBFDLifecycle: a session starts once the BGP session reported its
// local address; status follows the BFD state; Up to Down resets the BGP
// session, and only that.
func TestBGPBFDLifecycle(t *testing.T) {
	peer, local := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.10")
	sessions, router := &fakeSessions{}, &fakeResetter{}
	changed := 0
	b := &BGPBFD{Sessions: sessions, Router: router, Log: testr.New(t), Changed: func() { changed++ }}
	cfg := bgp.Config{Peers: []bgp.Peer{{Name: "tor", Address: peer}}}
	b.SetPeers(context.Background(), &cfg, []v1alpha2.BgpPeer{bfdBgpPeer("tor", &v1alpha2.PeerBfd{Enabled: true})})
	if len(sessions.last) != 0 {
		t.Errorf("sessions before the local address is known: %+v", sessions.last)
	}
	if got := b.State(peer); got != "Down" {
		t.Errorf("State before the session runs = %q, want Down", got)
	}
	b.PeerEvent(context.Background(), bgp.PeerEvent{Peer: "tor", Address: peer, Up: true, LocalAddress: local})
	wantKey := bfd.Key{Peer: peer, Local: local}
	if len(sessions.last) != 1 || sessions.last[0].Key != wantKey || sessions.last[0].Config != bfd.Defaults {
		t.Fatalf("sessions = %+v, want one %v with the defaults", sessions.last, wantKey)
	}

	b.OnChange(bfd.Event{Key: wantKey, Name: "tor", Old: bfd.Init, New: bfd.Up})
	if got := b.State(peer); got != "Up" || len(router.reset) != 0 {
		t.Errorf("after Up: state %q, resets %v", got, router.reset)
	}
	b.OnChange(bfd.Event{Key: wantKey, Name: "tor", Old: bfd.Up, New: bfd.Down, Diag: bfd.DiagDetectionExpired})
	if got := b.State(peer); got != "Down" || len(router.reset) != 1 || router.reset[0] != peer {
		t.Errorf("after Up->Down: state %q, resets %v; want Down and one reset of %s", got, router.reset, peer)
	}
	b.OnChange(bfd.Event{Key: wantKey, Name: "tor", Old: bfd.Down, New: bfd.Init})
	if len(router.reset) != 1 || changed != 4 {
		t.Errorf("resets %v, status triggers %d; want 1 and 4 (BFD turned on, three changes)", router.reset, changed)
	}

	// BFD turned off: no session, no state in status.
	cfg = bgp.Config{Peers: []bgp.Peer{{Name: "tor", Address: peer}}}
	b.SetPeers(context.Background(), &cfg, []v1alpha2.BgpPeer{bfdBgpPeer("tor", nil)})
	if len(sessions.last) != 0 || b.State(peer) != "" {
		t.Errorf("after disabling: sessions %+v, state %q", sessions.last, b.State(peer))
	}
	var nilB *BGPBFD
	nilB.SetPeers(context.Background(), &cfg, nil)
	nilB.PeerEvent(context.Background(), bgp.PeerEvent{})
	if nilB.State(peer) != "" {
		t.Error("nil BGPBFD reports a state")
	}
}

// TestBGPBFDMetrics: a peer's series read Down from the moment it enables
// BFD, follow its state, and go when it turns BFD off.
func TestBGPBFDMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := NewBFDMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	peer := netip.MustParseAddr("10.0.0.1")
	b := &BGPBFD{Sessions: &fakeSessions{}, Router: &fakeResetter{}, Log: testr.New(t), Metrics: m}
	cfg := bgp.Config{Peers: []bgp.Peer{{Name: "tor", Address: peer}}}
	b.SetPeers(context.Background(), &cfg, []v1alpha2.BgpPeer{bfdBgpPeer("tor", &v1alpha2.PeerBfd{Enabled: true})})
	if got := gathered(t, reg, "herald_speaker_bfd_session_state", "Down"); got != 1 {
		t.Errorf("Down series = %v, want 1", got)
	}
	b.OnChange(bfd.Event{Key: bfd.Key{Peer: peer}, Name: "tor", Old: bfd.Init, New: bfd.Up})
	b.OnChange(bfd.Event{Key: bfd.Key{Peer: peer}, Name: "tor", Old: bfd.Up, New: bfd.Down, Diag: bfd.DiagDetectionExpired})
	if got := gathered(t, reg, "herald_speaker_bfd_session_down_total", "1"); got != 1 {
		t.Errorf("downs = %v, want 1", got)
	}
	b.SetPeers(context.Background(), &cfg, nil)
	if got := gathered(t, reg, "herald_speaker_bfd_session_state", "Up"); got != -1 {
		t.Errorf("state series left after BFD was turned off (Up = %v)", got)
	}
}

// gathered is the value of the series of family name with a label of
// value label, or -1 when there is none.
func gathered(t *testing.T, reg *prometheus.Registry, name, label string) float64 {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetValue() == label {
					if m.GetCounter() != nil {
						return m.GetCounter().GetValue()
					}
					return m.GetGauge().GetValue()
				}
			}
		}
	}
	return -1
}
