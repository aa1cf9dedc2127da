package convert

import (
	"testing"

	"github.com/herald-lb/herald/api/v1alpha2"
)

// TestFillerReachesIssue13Fields guards the round trips above: they only
// prove what the filler fills, so each field issue 13 added must come out
// both set and unset (nil chance 0.3, zero to three elements) in the
// objects the round trips use.
func TestFillerReachesIssue13Fields(t *testing.T) {
	f := filler(1)
	type probe struct {
		name     string
		set      func(*v1alpha2.Eip, *v1alpha2.BgpConf, *v1alpha2.BgpPeer) bool
		yes, not int
	}
	firstAdv := func(e *v1alpha2.Eip) *v1alpha2.BgpAdvertisement {
		if len(e.Spec.BgpAdvertisements) == 0 {
			return nil
		}
		return &e.Spec.BgpAdvertisements[0]
	}
	probes := []*probe{
		{name: "Eip avoidBuggyIPs", set: func(e *v1alpha2.Eip, _ *v1alpha2.BgpConf, _ *v1alpha2.BgpPeer) bool { return e.Spec.AvoidBuggyIPs }},
		{name: "Eip nodeSelector", set: func(e *v1alpha2.Eip, _ *v1alpha2.BgpConf, _ *v1alpha2.BgpPeer) bool {
			return e.Spec.NodeSelector != nil
		}},
		{name: "Eip bgpAdvertisements", set: func(e *v1alpha2.Eip, _ *v1alpha2.BgpConf, _ *v1alpha2.BgpPeer) bool {
			return len(e.Spec.BgpAdvertisements) > 0
		}},
		{name: "advertisement aggregationLength", set: func(e *v1alpha2.Eip, _ *v1alpha2.BgpConf, _ *v1alpha2.BgpPeer) bool {
			a := firstAdv(e)
			return a != nil && a.AggregationLength != nil
		}},
		{name: "advertisement aggregationLengthV6", set: func(e *v1alpha2.Eip, _ *v1alpha2.BgpConf, _ *v1alpha2.BgpPeer) bool {
			a := firstAdv(e)
			return a != nil && a.AggregationLengthV6 != nil
		}},
		{name: "advertisement allowForeignAggregate", set: func(e *v1alpha2.Eip, _ *v1alpha2.BgpConf, _ *v1alpha2.BgpPeer) bool {
			a := firstAdv(e)
			return a != nil && a.AllowForeignAggregate
		}},
		{name: "advertisement localPref", set: func(e *v1alpha2.Eip, _ *v1alpha2.BgpConf, _ *v1alpha2.BgpPeer) bool {
			a := firstAdv(e)
			return a != nil && a.LocalPref != nil
		}},
		{name: "advertisement communities", set: func(e *v1alpha2.Eip, _ *v1alpha2.BgpConf, _ *v1alpha2.BgpPeer) bool {
			a := firstAdv(e)
			return a != nil && len(a.Communities) > 0
		}},
		{name: "advertisement peers", set: func(e *v1alpha2.Eip, _ *v1alpha2.BgpConf, _ *v1alpha2.BgpPeer) bool {
			a := firstAdv(e)
			return a != nil && len(a.Peers) > 0
		}},
		{name: "advertisement peerSelector", set: func(e *v1alpha2.Eip, _ *v1alpha2.BgpConf, _ *v1alpha2.BgpPeer) bool {
			a := firstAdv(e)
			return a != nil && a.PeerSelector != nil
		}},
		{name: "BgpConf communities", set: func(_ *v1alpha2.Eip, c *v1alpha2.BgpConf, _ *v1alpha2.BgpPeer) bool {
			return len(c.Spec.Communities) > 0
		}},
		{name: "BgpPeer nodeSelectors", set: func(_ *v1alpha2.Eip, _ *v1alpha2.BgpConf, p *v1alpha2.BgpPeer) bool {
			return len(p.Spec.NodeSelectors) > 0
		}},
		{name: "BgpPeer sourceAddress", set: func(_ *v1alpha2.Eip, _ *v1alpha2.BgpConf, p *v1alpha2.BgpPeer) bool {
			return p.Spec.SourceAddress != nil
		}},
		{name: "BgpPeer bfd", set: func(_ *v1alpha2.Eip, _ *v1alpha2.BgpConf, p *v1alpha2.BgpPeer) bool { return p.Spec.Bfd != nil }},
		{name: "BgpPeer bfd transmitInterval", set: func(_ *v1alpha2.Eip, _ *v1alpha2.BgpConf, p *v1alpha2.BgpPeer) bool {
			return p.Spec.Bfd != nil && p.Spec.Bfd.TransmitInterval != nil
		}},
		{name: "BgpPeer bfd detectMultiplier", set: func(_ *v1alpha2.Eip, _ *v1alpha2.BgpConf, p *v1alpha2.BgpPeer) bool {
			return p.Spec.Bfd != nil && p.Spec.Bfd.DetectMultiplier != nil
		}},
		{name: "BgpPeer status bfdState", set: func(_ *v1alpha2.Eip, _ *v1alpha2.BgpConf, p *v1alpha2.BgpPeer) bool {
			for _, s := range p.Status.NodesPeerStatus {
				if s.PeerState.BfdState != "" {
					return true
				}
			}
			return false
		}},
	}
	for range 200 {
		var (
			e v1alpha2.Eip
			c v1alpha2.BgpConf
			p v1alpha2.BgpPeer
		)
		f.Fill(&e)
		f.Fill(&c)
		f.Fill(&p)
		for _, pr := range probes {
			if pr.set(&e, &c, &p) {
				pr.yes++
			} else {
				pr.not++
			}
		}
	}
	for _, pr := range probes {
		if pr.yes < 10 || pr.not < 10 {
			t.Errorf("%s: set in %d of 200 objects, unset in %d; the round trips need both, often", pr.name, pr.yes, pr.not)
		}
	}
}
