package speaker

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/herald-lb/herald/api/v1alpha2"
)

// TestBGPModeOlderPeerWins gives the node two BgpPeers with the same
// neighbour whose different selectors both match it. The older one runs,
// whatever the names; the younger is reported as not running here, and
// logged once however often the node reconciles.
func TestBGPModeOlderPeerWins(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	peer := func(name string, created time.Time, label string) v1alpha2.BgpPeer {
		return v1alpha2.BgpPeer{
			ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.NewTime(created)},
			Spec: v1alpha2.BgpPeerSpec{
				Conf:         &v1alpha2.PeerConf{NeighborAddress: "2001:db8::1", PeerAs: 64512},
				NodeSelector: &metav1.LabelSelector{MatchLabels: map[string]string{label: "yes"}},
			},
		}
	}
	snap := Snapshot{
		Node:    &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node1", Labels: map[string]string{"rack-a": "yes", "bgp": "yes"}}},
		BgpConf: &v1alpha2.BgpConf{ObjectMeta: metav1.ObjectMeta{Name: v1alpha2.BgpConfName}, Spec: v1alpha2.BgpConfSpec{As: 64513, RouterId: "10.0.0.11"}},
		// "a-young" sorts first by name; the older "z-old" must win.
		BgpPeers: []v1alpha2.BgpPeer{peer("a-young", t0.Add(time.Hour), "rack-a"), peer("z-old", t0, "bgp")},
	}
	var logged []string
	log := funcr.New(func(prefix, args string) { logged = append(logged, args) }, funcr.Options{})
	router := &fakeRouter{}
	m := &BGPMode{Node: "node1", Router: router, Log: log}
	for range 3 {
		if err := m.Apply(context.Background(), snap, Desired{}); err != nil {
			t.Fatal(err)
		}
	}
	cfg, _ := router.state()
	if len(cfg.Peers) != 1 || cfg.Peers[0].Name != "z-old" {
		t.Fatalf("peers %+v, want only z-old", cfg.Peers)
	}
	if p := strings.Join(cfg.PeerProblems["a-young"], "; "); !strings.Contains(p, `older BgpPeer "z-old"`) {
		t.Errorf("problems of a-young %q; want them to name the older BgpPeer z-old", p)
	}
	var shadowLines []string
	for _, l := range logged {
		if strings.Contains(l, "a-young") && strings.Contains(l, "z-old") {
			shadowLines = append(shadowLines, l)
		}
	}
	if len(shadowLines) != 1 {
		t.Errorf("logged the shadowed peer %d times in 3 reconciles, want once: %q", len(shadowLines), logged)
	}

	// The older one goes: the younger runs.
	snap.BgpPeers = snap.BgpPeers[:1]
	if err := m.Apply(context.Background(), snap, Desired{}); err != nil {
		t.Fatal(err)
	}
	if cfg, _ := router.state(); len(cfg.Peers) != 1 || cfg.Peers[0].Name != "a-young" || len(cfg.PeerProblems) != 0 {
		t.Errorf("after z-old left: peers %+v, problems %q; want a-young running", cfg.Peers, cfg.PeerProblems)
	}
}
