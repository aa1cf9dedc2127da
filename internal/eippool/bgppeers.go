package eippool

import (
	"errors"
	"fmt"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/internal/community"
)

// CheckBGP checks an Eip's bgpAdvertisements against the BGP objects of
// the cluster: conf is BgpConf "default" (nil when there is none), peers
// every BgpPeer. An alias that conf does not define is refused; a peer
// name that no BgpPeer has is only warned about, since kubectl apply of a
// directory may create the Eip before its BgpPeers; and a localPref that
// reaches an eBGP peer is warned about, since BGP sends LOCAL_PREF to iBGP
// peers only.
func CheckBGP(e *v1alpha2.Eip, conf *v1alpha2.BgpConf, peers []v1alpha2.BgpPeer) (warnings []string, errs field.ErrorList) {
	if Protocol(e) != v1alpha2.ProtocolBGP {
		return nil, nil // Validate refuses the advertisements.
	}
	aliases := aliasesOf(conf)
	path := field.NewPath("spec", "bgpAdvertisements")
	for i := range e.Spec.BgpAdvertisements {
		a, p := &e.Spec.BgpAdvertisements[i], path.Index(i)
		for j, c := range a.Communities {
			if _, err := community.Parse(c, aliases); errors.Is(err, community.ErrUnknownAlias) {
				errs = append(errs, field.Invalid(p.Child("communities").Index(j), c, fmt.Sprintf(
					"is neither a community (65535:65282, large:64512:1:2), a well-known name (no-export, no-advertise, ...) nor an alias: "+
						"aliases are defined in BgpConf %s's spec.communities (%s); add {name: %s, value: <community>} there first, or write the community itself",
					v1alpha2.BgpConfName, aliasList(aliases), c)))
			}
		}
		for _, name := range a.Peers {
			if !slices.ContainsFunc(peers, func(bp v1alpha2.BgpPeer) bool { return bp.Name == name }) {
				warnings = append(warnings, fmt.Sprintf("%s: no BgpPeer is called %q (yet); this advertisement reaches it once it exists",
					p.Child("peers"), name))
			}
		}
		if a.LocalPref != nil {
			if ebgp := ebgpPeers(a, conf, peers); len(ebgp) > 0 {
				warnings = append(warnings, fmt.Sprintf(
					"%s: LOCAL_PREF is only sent to iBGP peers, and this advertisement reaches eBGP peer(s) %s (peer AS differs from the local AS), which will not see it; "+
						"use communities to steer eBGP peers", p.Child("localPref"), quoteAll(ebgp)))
			}
		}
	}
	return warnings, errs
}

// aliasesOf returns BgpConf's alias names with their values, bad values
// included: a bad value is BgpConf's refusal, not the Eip's, so the name
// counts as defined here.
func aliasesOf(conf *v1alpha2.BgpConf) map[string]string {
	out := map[string]string{}
	if conf != nil {
		for _, a := range conf.Spec.Communities {
			out[a.Name] = a.Value
		}
	}
	return out
}

func aliasList(aliases map[string]string) string {
	if len(aliases) == 0 {
		return "none defined now"
	}
	names := make([]string, 0, len(aliases))
	for n := range aliases {
		names = append(names, n)
	}
	slices.Sort(names)
	return "defined now: " + quoteAll(names)
}

// Reaches reports whether an advertisement goes to BgpPeer p: to every
// peer when it names none and selects none, else to the peers it names
// and those its selector matches.
func Reaches(a *v1alpha2.BgpAdvertisement, p *v1alpha2.BgpPeer) bool {
	if SelectsEveryPeer(a) || slices.Contains(a.Peers, p.Name) {
		return true
	}
	if a.PeerSelector == nil {
		return false
	}
	sel, err := metav1.LabelSelectorAsSelector(a.PeerSelector)
	return err == nil && sel.Matches(labels.Set(p.Labels))
}

// ebgpPeers names the peers a reaches whose AS differs from some local AS
// a node may use with them: the peer's conf.localAs, else BgpConf's as and
// asPerRack. Peers whose local AS cannot be known (no BgpConf) are left out.
func ebgpPeers(a *v1alpha2.BgpAdvertisement, conf *v1alpha2.BgpConf, peers []v1alpha2.BgpPeer) []string {
	var out []string
	for i := range peers {
		p := &peers[i]
		if p.Spec.Conf == nil || !Reaches(a, p) {
			continue
		}
		var local []v1alpha2.ASNumber
		switch {
		case p.Spec.Conf.LocalAs != 0:
			local = []v1alpha2.ASNumber{p.Spec.Conf.LocalAs}
		case conf != nil:
			local = append(local, conf.Spec.As)
			for _, as := range conf.Spec.AsPerRack {
				local = append(local, as)
			}
		}
		if slices.ContainsFunc(local, func(as v1alpha2.ASNumber) bool { return as != 0 && as != p.Spec.Conf.PeerAs }) {
			out = append(out, p.Name)
		}
	}
	slices.Sort(out)
	return out
}

func quoteAll(names []string) string {
	out := ""
	for i, n := range names {
		if i > 0 {
			out += ", "
		}
		out += fmt.Sprintf("%q", n)
	}
	return out
}
