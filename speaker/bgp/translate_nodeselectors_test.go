package bgp

import (
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/herald-lb/herald/api/v1alpha2"
)

// TestTranslateNodeSelectors: a BgpPeer runs on the node when its
// nodeSelector or any of its nodeSelectors matches (bgpconfig.SelectsNode,
// the rule the controller and the webhook use too); a broken entry keeps
// it off every node and is reported by its path.
func TestTranslateNodeSelectors(t *testing.T) {
	sel := func(k, v string) metav1.LabelSelector {
		return metav1.LabelSelector{MatchLabels: map[string]string{k: v}}
	}
	peers := []v1alpha2.BgpPeer{
		testPeer("second-entry", "10.0.0.1", func(s *v1alpha2.BgpPeerSpec) {
			s.NodeSelectors = []metav1.LabelSelector{sel("role", "core"), sel("role", "edge")}
		}),
		testPeer("or-with-nodeselector", "fd00::1", func(s *v1alpha2.BgpPeerSpec) {
			nodeSel := sel(v1alpha2.LabelRack, "rack1")
			s.NodeSelector = &nodeSel
			s.NodeSelectors = []metav1.LabelSelector{sel("role", "core")}
		}),
		testPeer("no-match", "10.0.0.2", func(s *v1alpha2.BgpPeerSpec) {
			nodeSel := sel(v1alpha2.LabelRack, "rack2")
			s.NodeSelector = &nodeSel
			s.NodeSelectors = []metav1.LabelSelector{sel("role", "core")}
		}),
		testPeer("broken-entry", "10.0.0.3", func(s *v1alpha2.BgpPeerSpec) {
			s.NodeSelectors = []metav1.LabelSelector{sel("role", "edge"), {MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "role", Operator: "Near"}}}}
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
	slices.Sort(names)
	if want := []string{"or-with-nodeselector", "second-entry"}; !slices.Equal(names, want) {
		t.Errorf("peers run %v, want %v", names, want)
	}
	problems := cfg.PeerProblems["broken-entry"]
	if len(problems) != 1 || !strings.HasPrefix(problems[0], "spec.nodeSelectors[1]: ") {
		t.Errorf("problems of broken-entry = %q, want one naming spec.nodeSelectors[1]", problems)
	}
	if len(cfg.PeerProblems) != 1 {
		t.Errorf("PeerProblems = %q, want broken-entry's only", cfg.PeerProblems)
	}
}
