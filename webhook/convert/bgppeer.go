package convert

import (
	"context"
	"fmt"
	"net/netip"

	apiequality "k8s.io/apimachinery/pkg/api/equality"

	"github.com/herald-lb/herald/api/v1alpha1"
	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/internal/bgpconfig"
)

// maxPort is the largest TCP port, the most v1alpha1's uint16 remotePort
// holds.
const maxPort = 65535

// peerV1alpha1Only are the v1alpha1 BgpPeer fields v1alpha2 has no place
// for, kept in AnnotationV1alpha1Fields of the stored object.
type peerV1alpha1Only struct {
	UsingPortForward bool `json:"usingPortForward,omitempty"`
}

// BgpPeerToHub converts a v1alpha1 BgpPeer to v1alpha2: config becomes
// conf, addPaths.sendMax goes to every entry of afiSafis, transport keeps
// its name, usingPortForward goes to AnnotationV1alpha1Fields. The rest of
// v1alpha2 comes from AnnotationV1alpha2Fields, when present; a v1alpha1
// field left as that annotation's fields read in v1alpha1 leaves them
// exactly as they were.
func BgpPeerToHub(_ context.Context, src *v1alpha1.BgpPeer, dst *v1alpha2.BgpPeer) error {
	var base fields[v1alpha2.BgpPeerSpec, v1alpha2.BgpPeerStatus]
	if _, err := readFields(&src.ObjectMeta, AnnotationV1alpha2Fields, &base); err != nil {
		return fmt.Errorf("bgppeer %q: %w", src.Name, err)
	}
	dst.ObjectMeta = copyMeta(&src.ObjectMeta, AnnotationV1alpha2Fields)
	dst.Spec = bgpPeerHub(&src.Spec, &base.Spec)
	dst.Status = *base.Status.DeepCopy()
	// The v1alpha1-only field: an annotation a client sent is replaced by
	// what the spec says.
	dst.ObjectMeta = copyMeta(&dst.ObjectMeta, AnnotationV1alpha1Fields)
	if only := (peerV1alpha1Only{UsingPortForward: src.Spec.UsingPortForward}); only != (peerV1alpha1Only{}) {
		if err := writeFields(&dst.ObjectMeta, AnnotationV1alpha1Fields, fields[peerV1alpha1Only, struct{}]{Spec: only}); err != nil {
			return fmt.Errorf("bgppeer %q: %w", src.Name, err)
		}
	}
	return nil
}

// BgpPeerFromHub converts a v1alpha2 BgpPeer to v1alpha1, keeping whatever
// v1alpha1 cannot show in AnnotationV1alpha2Fields.
func BgpPeerFromHub(_ context.Context, src *v1alpha2.BgpPeer, dst *v1alpha1.BgpPeer) error {
	var only fields[peerV1alpha1Only, struct{}]
	if _, err := readFields(&src.ObjectMeta, AnnotationV1alpha1Fields, &only); err != nil {
		return fmt.Errorf("bgppeer %q: %w", src.Name, err)
	}
	dst.ObjectMeta = copyMeta(&src.ObjectMeta, AnnotationV1alpha1Fields)
	dst.Spec = bgpPeerSpoke(&src.Spec)
	dst.Spec.UsingPortForward = only.Spec.UsingPortForward
	dst.Status = v1alpha1.BgpPeerStatus{}
	if apiequality.Semantic.DeepEqual(bgpPeerHub(&dst.Spec, &v1alpha2.BgpPeerSpec{}), src.Spec) &&
		apiequality.Semantic.DeepEqual(v1alpha2.BgpPeerStatus{}, src.Status) {
		return nil
	}
	if err := writeFields(&dst.ObjectMeta, AnnotationV1alpha2Fields, fields[v1alpha2.BgpPeerSpec, v1alpha2.BgpPeerStatus]{src.Spec, src.Status}); err != nil {
		return fmt.Errorf("bgppeer %q: %w", src.Name, err)
	}
	return nil
}

// bgpPeerSpoke is what a v1alpha2 BgpPeer's spec reads as in v1alpha1
// (usingPortForward aside).
func bgpPeerSpoke(h *v1alpha2.BgpPeerSpec) v1alpha1.BgpPeerSpec {
	var s v1alpha1.BgpPeerSpec
	if h.Conf != nil {
		s.Config = v1alpha1.NeighborConfig{PeerAs: v1alpha1.ASNumber(h.Conf.PeerAs), NeighborAddress: h.Conf.NeighborAddress}
	}
	if h.Transport != nil {
		s.Transport.PassiveMode = h.Transport.PassiveMode
		if h.Transport.RemotePort <= maxPort {
			s.Transport.RemotePort = uint16(h.Transport.RemotePort)
		}
	}
	for _, a := range h.AfiSafis {
		if a.AddPaths != nil && a.AddPaths.Config != nil {
			s.AddPaths.SendMax = uint8(min(a.AddPaths.Config.SendMax, 255))
			break
		}
	}
	return s
}

// bgpPeerHub applies the v1alpha1 fields to the v1alpha2 base. A group of
// fields (config, transport, addPaths) that reads in v1alpha1 exactly as
// the base does is left alone, so that what v1alpha1 cannot show survives;
// one that differs was edited through v1alpha1 and is written.
func bgpPeerHub(s *v1alpha1.BgpPeerSpec, base *v1alpha2.BgpPeerSpec) v1alpha2.BgpPeerSpec {
	h := *base.DeepCopy()
	was := bgpPeerSpoke(base)
	if s.Config != was.Config {
		if h.Conf == nil {
			h.Conf = &v1alpha2.PeerConf{}
		}
		h.Conf.PeerAs, h.Conf.NeighborAddress = v1alpha2.ASNumber(s.Config.PeerAs), s.Config.NeighborAddress
		if *h.Conf == (v1alpha2.PeerConf{}) {
			h.Conf = nil
		}
	}
	if s.Transport != was.Transport {
		if h.Transport == nil {
			h.Transport = &v1alpha2.Transport{}
		}
		h.Transport.PassiveMode, h.Transport.RemotePort = s.Transport.PassiveMode, uint32(s.Transport.RemotePort)
		if *h.Transport == (v1alpha2.Transport{}) {
			h.Transport = nil
		}
	}
	if s.AddPaths != was.AddPaths {
		setSendMax(&h, uint32(s.AddPaths.SendMax), s.Config.NeighborAddress)
	}
	return h
}

// setSendMax gives every address family of the peer the add-paths send-max
// n, as v1alpha1's one setting meant for the whole session. A peer that
// lists no family gets the unicast family of its neighbour's address, the
// one the session carries by default; n = 0 then needs none.
func setSendMax(h *v1alpha2.BgpPeerSpec, n uint32, neighbor string) {
	if len(h.AfiSafis) == 0 {
		if n == 0 {
			return
		}
		afi := bgpconfig.AfiIP
		if a, err := netip.ParseAddr(neighbor); err == nil && a.Is6() && !a.Is4In6() {
			afi = bgpconfig.AfiIP6
		}
		h.AfiSafis = []v1alpha2.AfiSafi{{
			Config:   &v1alpha2.AfiSafiConfig{Family: &v1alpha2.Family{Afi: afi, Safi: bgpconfig.SafiUnicast}, Enabled: true},
			AddPaths: &v1alpha2.AddPaths{Config: &v1alpha2.AddPathsConfig{SendMax: n}},
		}}
		return
	}
	for i := range h.AfiSafis {
		a := &h.AfiSafis[i]
		if n == 0 && (a.AddPaths == nil || a.AddPaths.Config == nil) {
			continue
		}
		if a.AddPaths == nil {
			a.AddPaths = &v1alpha2.AddPaths{}
		}
		if a.AddPaths.Config == nil {
			a.AddPaths.Config = &v1alpha2.AddPathsConfig{}
		}
		a.AddPaths.Config.SendMax = n
	}
}
