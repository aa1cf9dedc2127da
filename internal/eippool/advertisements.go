package eippool

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/internal/community"
	"github.com/herald-lb/herald/internal/iprange"
	"github.com/herald-lb/herald/internal/selector"
)

// validateAdvertisements checks spec.bgpAdvertisements on their own: bgp
// Eips only, prefix lengths in range, no aggregate that reaches outside
// the pool unless allowed, communities that parse (aliases are
// CheckBGP's: they live in BgpConf), valid peer selectors, and no two
// advertisements that would give one peer the same prefix with different
// LOCAL_PREFs. r is the parsed spec.address, invalid when it did not parse.
func validateAdvertisements(path *field.Path, protocol string, r iprange.Range, advs []v1alpha2.BgpAdvertisement) field.ErrorList {
	if len(advs) == 0 {
		return nil
	}
	if protocol != v1alpha2.ProtocolBGP {
		return field.ErrorList{field.Forbidden(path, fmt.Sprintf(
			"BGP advertisements apply to bgp Eips only; this Eip's protocol is %s: remove spec.bgpAdvertisements, or set spec.protocol to bgp", protocol))}
	}
	var errs field.ErrorList
	for i := range advs {
		a, p := &advs[i], path.Index(i)
		errs = append(errs, checkLength(p, "aggregationLength", a.AggregationLength, 32, r, r.IsValid() && r.Is4(), a.AllowForeignAggregate)...)
		errs = append(errs, checkLength(p, "aggregationLengthV6", a.AggregationLengthV6, 128, r, r.IsValid() && !r.Is4(), a.AllowForeignAggregate)...)
		for j, c := range a.Communities {
			if _, err := community.Parse(c, nil); err != nil && !errors.Is(err, community.ErrUnknownAlias) {
				errs = append(errs, field.Invalid(p.Child("communities").Index(j), c, fmt.Sprintf(
					"%v; write 65535:65282, large:64512:1:2, a well-known name (no-export, no-advertise, ...) or an alias of BgpConf default's spec.communities", err)))
			}
		}
		errs = append(errs, selector.Validate(p.Child("peerSelector"), a.PeerSelector)...)
	}
	if r.IsValid() {
		errs = append(errs, localPrefClashes(path, r.Is4(), advs)...)
	}
	return errs
}

// checkLength checks one aggregation length, field name of the
// advertisement at adv: within 0..bits, and, for the pool's own family
// (applies), no aggregate holding addresses outside the pool unless
// foreign aggregates are allowed. The other family's length is harmless
// (AdvertisementWarnings says so).
func checkLength(adv *field.Path, name string, length *int32, bits int, r iprange.Range, applies, allowForeign bool) field.ErrorList {
	if length == nil {
		return nil
	}
	path := adv.Child(name)
	l := int(*length)
	if l < 0 || l > bits {
		return field.ErrorList{field.Invalid(path, l, fmt.Sprintf("must be a prefix length from 0 to %d", bits))}
	}
	if !applies || allowForeign {
		return nil
	}
	if foreign, ok := foreignAggregate(r, l); ok {
		min := l
		for ; min < bits; min++ {
			if _, still := foreignAggregate(r, min); !still {
				break
			}
		}
		fix := fmt.Sprintf("use a length of %d or more", min)
		if min == bits {
			fix = fmt.Sprintf("remove %s to announce each address on its own", name)
		}
		return field.ErrorList{field.Invalid(path, l, fmt.Sprintf(
			"would announce %s, which holds addresses outside the Eip (%s); set allowForeignAggregate: true if you own the whole prefix, or %s",
			foreign, r, fix))}
	}
	return nil
}

// foreignAggregate returns an aggregate of length l of some address of r
// that reaches outside r. Checking the two ends suffices: every aggregate
// of an address in between lies between theirs.
func foreignAggregate(r iprange.Range, l int) (netip.Prefix, bool) {
	first := netip.PrefixFrom(r.First(), l).Masked()
	if first.Addr() != r.First() {
		return first, true
	}
	last := netip.PrefixFrom(r.Last(), l).Masked()
	if iprange.FromPrefix(last).Last() != r.Last() {
		return last, true
	}
	return netip.Prefix{}, false
}

// EffectiveLength is the prefix length an advertisement announces a
// family's addresses with: aggregationLength (IPv4, default 32) or
// aggregationLengthV6 (default 128).
func EffectiveLength(a *v1alpha2.BgpAdvertisement, is4 bool) int {
	switch {
	case is4 && a.AggregationLength != nil:
		return int(*a.AggregationLength)
	case is4:
		return 32
	case a.AggregationLengthV6 != nil:
		return int(*a.AggregationLengthV6)
	default:
		return 128
	}
}

// SelectsEveryPeer reports whether an advertisement names no peer and has
// no peer selector: it goes to every BgpPeer.
func SelectsEveryPeer(a *v1alpha2.BgpAdvertisement) bool {
	return len(a.Peers) == 0 && a.PeerSelector == nil
}

// localPrefClashes refuses two advertisements that give one peer the same
// prefix length with different LOCAL_PREFs (unset counts as a value): a
// peer keeps one route per prefix from a node, so one of the two would
// silently lose. Only what can be told without the BgpPeers is checked:
// both go to every peer, one to every peer and the other to named peers,
// or both name the same peer. Selectors are left alone.
func localPrefClashes(path *field.Path, is4 bool, advs []v1alpha2.BgpAdvertisement) field.ErrorList {
	var errs field.ErrorList
	for j := range advs {
		b := &advs[j]
		for i := range j {
			a := &advs[i]
			if EffectiveLength(a, is4) != EffectiveLength(b, is4) || equalPref(a.LocalPref, b.LocalPref) {
				continue
			}
			var whom string
			switch {
			case SelectsEveryPeer(a) && SelectsEveryPeer(b):
				whom = "every peer"
			case SelectsEveryPeer(a) && len(b.Peers) > 0:
				whom = fmt.Sprintf("BgpPeer %q", b.Peers[0])
			case SelectsEveryPeer(b) && len(a.Peers) > 0:
				whom = fmt.Sprintf("BgpPeer %q", a.Peers[0])
			default:
				k := slices.IndexFunc(b.Peers, func(n string) bool { return slices.Contains(a.Peers, n) })
				if k < 0 {
					continue
				}
				whom = fmt.Sprintf("BgpPeer %q", b.Peers[k])
			}
			errs = append(errs, field.Invalid(path.Index(j).Child("localPref"), prefValue(b.LocalPref), fmt.Sprintf(
				"%s sends %s the same /%d routes with localPref %s; a peer keeps one route per prefix, so one of them would be lost: "+
					"give both the same localPref, or make their aggregation lengths or peers differ",
				path.Index(i), whom, EffectiveLength(b, is4), prefText(a.LocalPref))))
		}
	}
	return errs
}

func equalPref(a, b *uint32) bool {
	return (a == nil) == (b == nil) && (a == nil || *a == *b)
}

// prefValue is what a refusal shows as the bad value: the number, or
// "unset".
func prefValue(p *uint32) any {
	if p == nil {
		return "unset"
	}
	return *p
}

func prefText(p *uint32) string {
	if p == nil {
		return "unset"
	}
	return fmt.Sprint(*p)
}

// AdvertisementWarnings are the harmless oddities of an Eip's BGP settings:
// a length for the other family, which changes nothing, and avoidBuggyIPs
// on an IPv6 pool, which has no .0 or .255 addresses to avoid.
func AdvertisementWarnings(e *v1alpha2.Eip) []string {
	r, err := iprange.Parse(e.Spec.Address)
	if err != nil {
		return nil
	}
	var warnings []string
	path := field.NewPath("spec", "bgpAdvertisements")
	for i, a := range e.Spec.BgpAdvertisements {
		if r.Is4() && a.AggregationLengthV6 != nil {
			warnings = append(warnings, fmt.Sprintf("%s: has no effect on IPv4 pools (this Eip's address is %s); set aggregationLength instead, or remove it",
				path.Index(i).Child("aggregationLengthV6"), e.Spec.Address))
		}
		if !r.Is4() && a.AggregationLength != nil {
			warnings = append(warnings, fmt.Sprintf("%s: has no effect on IPv6 pools (this Eip's address is %s); set aggregationLengthV6 instead, or remove it",
				path.Index(i).Child("aggregationLength"), e.Spec.Address))
		}
	}
	if e.Spec.AvoidBuggyIPs && !r.Is4() {
		warnings = append(warnings, fmt.Sprintf("spec.avoidBuggyIPs: has no effect on IPv6 pools (this Eip's address is %s): only IPv4 addresses end in .0 or .255", e.Spec.Address))
	}
	return warnings
}
