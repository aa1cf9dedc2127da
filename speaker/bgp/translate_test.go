package bgp

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/herald-lb/herald/api/v1alpha2"
)

// Fixtures shared by the translation tests: a BgpConf, a BgpPeer and a
// node that together translate without any problem.

func testConf(mutate ...func(*v1alpha2.BgpConfSpec)) *v1alpha2.BgpConf {
	c := &v1alpha2.BgpConf{
		ObjectMeta: metav1.ObjectMeta{Name: v1alpha2.BgpConfName},
		Spec:       v1alpha2.BgpConfSpec{As: 65001},
	}
	for _, m := range mutate {
		m(&c.Spec)
	}
	return c
}

func testPeer(name, addr string, mutate ...func(*v1alpha2.BgpPeerSpec)) v1alpha2.BgpPeer {
	p := v1alpha2.BgpPeer{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v1alpha2.BgpPeerSpec{
			Conf: &v1alpha2.PeerConf{NeighborAddress: addr, PeerAs: 65000},
		},
	}
	for _, m := range mutate {
		m(&p.Spec)
	}
	return p
}

var testNode = Node{
	Name:      "node1",
	Labels:    map[string]string{v1alpha2.LabelRack: "rack1", "role": "edge"},
	Addresses: []netip.Addr{netip.MustParseAddr("fd00::11"), netip.MustParseAddr("192.168.0.11")},
}

func noPassword(ref v1alpha2.SecretKeyRef) (string, error) {
	return "", errors.New("no secrets in this test")
}

// problemFields reduces problems to the fields they name, so tables assert
// which fields are reported, not the wording.
func problemFields(problems []string) []string {
	var out []string
	for _, p := range problems {
		field, _, _ := strings.Cut(p, ":")
		out = append(out, field)
	}
	return out
}

func TestTranslateGlobal(t *testing.T) {
	addr := netip.MustParseAddr
	tests := []struct {
		name         string
		conf         *v1alpha2.BgpConf
		peers        []v1alpha2.BgpPeer
		node         Node
		want         Global
		wantProblems []string
	}{{
		name: "as only: node IPv4 as router ID, no listener",
		conf: testConf(),
		node: testNode,
		want: Global{AS: 65001, RouterID: addr("192.168.0.11"), ListenPort: NoListener},
	}, {
		name: "routerId applies to every node",
		conf: testConf(func(s *v1alpha2.BgpConfSpec) { s.RouterId = "10.255.0.1" }),
		node: testNode,
		want: Global{AS: 65001, RouterID: addr("10.255.0.1"), ListenPort: NoListener},
	}, {
		name: "asPerRack match: rack AS and the node's own router ID, even with routerId set",
		conf: testConf(func(s *v1alpha2.BgpConfSpec) {
			s.RouterId = "10.255.0.1"
			s.AsPerRack = map[string]v1alpha2.ASNumber{"rack1": 64601, "rack2": 64602}
		}),
		node: testNode,
		want: Global{AS: 64601, RouterID: addr("192.168.0.11"), ListenPort: NoListener},
	}, {
		name: "asPerRack without a match keeps as and routerId",
		conf: testConf(func(s *v1alpha2.BgpConfSpec) {
			s.RouterId = "10.255.0.1"
			s.AsPerRack = map[string]v1alpha2.ASNumber{"rack2": 64602}
		}),
		node: testNode,
		want: Global{AS: 65001, RouterID: addr("10.255.0.1"), ListenPort: NoListener},
	}, {
		name: "IPv4-mapped node address is a router ID",
		conf: testConf(),
		node: Node{Name: "n", Addresses: []netip.Addr{addr("::ffff:192.168.0.12")}},
		want: Global{AS: 65001, RouterID: addr("192.168.0.12"), ListenPort: NoListener},
	}, {
		name: "listenPort is used as set",
		conf: testConf(func(s *v1alpha2.BgpConfSpec) { s.ListenPort = 17900 }),
		node: testNode,
		want: Global{AS: 65001, RouterID: addr("192.168.0.11"), ListenPort: 17900},
	}, {
		name:  "no listenPort but a passive peer: 179",
		conf:  testConf(),
		peers: []v1alpha2.BgpPeer{testPeer("tor", "10.0.0.1", passive)},
		node:  testNode,
		want:  Global{AS: 65001, RouterID: addr("192.168.0.11"), ListenPort: BGPPort},
	}, {
		name:  "listenPort wins over a passive peer",
		conf:  testConf(func(s *v1alpha2.BgpConfSpec) { s.ListenPort = 17900 }),
		peers: []v1alpha2.BgpPeer{testPeer("tor", "10.0.0.1", passive)},
		node:  testNode,
		want:  Global{AS: 65001, RouterID: addr("192.168.0.11"), ListenPort: 17900},
	}, {
		name: "a passive peer not selected for the node opens no listener",
		conf: testConf(),
		peers: []v1alpha2.BgpPeer{testPeer("tor", "10.0.0.1", passive, func(s *v1alpha2.BgpPeerSpec) {
			s.NodeSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"role": "core"}}
		})},
		node: testNode,
		want: Global{AS: 65001, RouterID: addr("192.168.0.11"), ListenPort: NoListener},
	}, {
		name: "listenAddresses, IPv4 and IPv6",
		conf: testConf(func(s *v1alpha2.BgpConfSpec) { s.ListenAddresses = []string{"192.168.0.11", "fd00::11"} }),
		node: testNode,
		want: Global{AS: 65001, RouterID: addr("192.168.0.11"), ListenPort: NoListener,
			ListenAddresses: []netip.Addr{addr("192.168.0.11"), addr("fd00::11")}},
	}, {
		name: "families: unicast kept, others reported",
		conf: testConf(func(s *v1alpha2.BgpConfSpec) { s.Families = []uint32{0, 1, 9} }),
		node: testNode,
		want: Global{AS: 65001, RouterID: addr("192.168.0.11"), ListenPort: NoListener,
			Families: []Family{IPv4Unicast, IPv6Unicast}},
		wantProblems: []string{"spec.families[2]"},
	}, {
		name: "useMultiplePaths",
		conf: testConf(func(s *v1alpha2.BgpConfSpec) { s.UseMultiplePaths = true }),
		node: testNode,
		want: Global{AS: 65001, RouterID: addr("192.168.0.11"), ListenPort: NoListener, UseMultiplePaths: true},
	}, {
		name:         "policy is reported",
		conf:         testConf(func(s *v1alpha2.BgpConfSpec) { s.Policy = "export-only" }),
		node:         testNode,
		want:         Global{AS: 65001, RouterID: addr("192.168.0.11"), ListenPort: NoListener},
		wantProblems: []string{"spec.policy"},
	}, {
		name: "graceful-restart state fields are reported on the BgpConf",
		conf: testConf(func(s *v1alpha2.BgpConfSpec) {
			s.GracefulRestart = &v1alpha2.GracefulRestart{Enabled: true, LonglivedEnabled: true, StaleRoutesTime: 60,
				PeerRestartTime: 1, PeerRestarting: true, Mode: "helper"}
		}),
		node: testNode,
		want: Global{AS: 65001, RouterID: addr("192.168.0.11"), ListenPort: NoListener},
		wantProblems: []string{"spec.gracefulRestart.longlivedEnabled", "spec.gracefulRestart.staleRoutesTime",
			"spec.gracefulRestart.peerRestartTime", "spec.gracefulRestart.peerRestarting", "spec.gracefulRestart.mode"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Translate(tt.conf, tt.peers, tt.node, noPassword)
			if err != nil {
				t.Fatalf("Translate: %v", err)
			}
			if diff := cmp.Diff(tt.want, cfg.Global, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
				t.Errorf("Global (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantProblems, problemFields(cfg.ConfProblems)); diff != "" {
				t.Errorf("ConfProblems (-want +got):\n%s\n%q", diff, cfg.ConfProblems)
			}
		})
	}
}

func passive(s *v1alpha2.BgpPeerSpec) { s.Transport = &v1alpha2.Transport{PassiveMode: true} }

func TestTranslateErrors(t *testing.T) {
	tests := []struct {
		name    string
		conf    *v1alpha2.BgpConf
		node    Node
		wantErr string
	}{{
		name:    "no BgpConf",
		conf:    nil,
		node:    testNode,
		wantErr: ErrNoConf.Error(),
	}, {
		name:    "BgpConf the webhook would refuse",
		conf:    testConf(func(s *v1alpha2.BgpConfSpec) { s.As = 0 }),
		node:    testNode,
		wantErr: `bgpconf "default": spec.as: Required value`,
	}, {
		name:    "IPv6-only node without routerId",
		conf:    testConf(),
		node:    Node{Name: "v6only", Addresses: []netip.Addr{netip.MustParseAddr("fd00::12")}},
		wantErr: `node "v6only": no IPv4 address to use as BGP router ID`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Translate(tt.conf, nil, tt.node, noPassword)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Translate error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
	if _, err := Translate(nil, nil, testNode, noPassword); !errors.Is(err, ErrNoConf) {
		t.Errorf("Translate(nil) = %v, want ErrNoConf", err)
	}
}

func TestTranslatePeerSelection(t *testing.T) {
	onNode := func(key, value string) func(*v1alpha2.BgpPeerSpec) {
		return func(s *v1alpha2.BgpPeerSpec) {
			s.NodeSelector = &metav1.LabelSelector{MatchLabels: map[string]string{key: value}}
		}
	}
	peers := []v1alpha2.BgpPeer{
		testPeer("z-everywhere", "10.0.0.3"),
		testPeer("a-edge", "10.0.0.1", onNode("role", "edge")),
		testPeer("core", "10.0.0.2", onNode("role", "core")),
		testPeer("b-duplicate", "10.0.0.1"),
		testPeer("bad-selector", "10.0.0.4", func(s *v1alpha2.BgpPeerSpec) {
			s.NodeSelector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "role", Operator: "Near"}}}
		}),
		testPeer("no-address", ""),
		testPeer("secret", "10.0.0.5", func(s *v1alpha2.BgpPeerSpec) {
			s.Conf.AuthPasswordSecretRef = &v1alpha2.SecretKeyRef{Namespace: "herald", Name: "tor"}
		}),
	}
	cfg, err := Translate(testConf(), peers, testNode, noPassword)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range cfg.Peers {
		names = append(names, p.Name)
	}
	if diff := cmp.Diff([]string{"a-edge", "z-everywhere"}, names); diff != "" {
		t.Errorf("peers run (-want +got):\n%s", diff)
	}
	got := map[string][]string{}
	for name, problems := range cfg.PeerProblems {
		got[name] = problemFields(problems)
	}
	want := map[string][]string{
		"b-duplicate":  {"spec.conf.neighborAddress"},
		"bad-selector": {"spec.nodeSelector"},
		"no-address":   {"spec.conf.neighborAddress", "the peer is not started until these are fixed"},
		"secret":       {"spec.conf.authPasswordSecretRef"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("PeerProblems (-want +got):\n%s\n%q", diff, cfg.PeerProblems)
	}
}

func TestTranslatePasswordFromSecret(t *testing.T) {
	var asked v1alpha2.SecretKeyRef
	password := func(ref v1alpha2.SecretKeyRef) (string, error) {
		asked = ref
		return "s3cret", nil
	}
	p := testPeer("tor", "10.0.0.1", func(s *v1alpha2.BgpPeerSpec) {
		s.Conf.AuthPasswordSecretRef = &v1alpha2.SecretKeyRef{Namespace: "herald", Name: "tor-md5"}
	})
	cfg, err := Translate(testConf(), []v1alpha2.BgpPeer{p}, testNode, password)
	if err != nil {
		t.Fatal(err)
	}
	if want := (v1alpha2.SecretKeyRef{Namespace: "herald", Name: "tor-md5", Key: "password"}); asked != want {
		t.Errorf("asked for %+v, want %+v", asked, want)
	}
	if len(cfg.Peers) != 1 || cfg.Peers[0].Password != "s3cret" {
		t.Errorf("peers = %+v, want one with the Secret's password", cfg.Peers)
	}
}
