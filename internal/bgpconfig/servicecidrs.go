package bgpconfig

import (
	"fmt"
	"net/netip"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/herald-lb/herald/api/v1alpha2"
)

// ServiceCIDRs are the Service ranges a BgpConf asks every BGP speaker to
// advertise (Calico's serviceClusterIPs and serviceExternalIPs), parsed.
type ServiceCIDRs struct {
	// ClusterIPs are spec.serviceClusterIPs, in the order given.
	ClusterIPs []netip.Prefix
	// ExternalIPs are spec.serviceExternalIPs, in the order given.
	ExternalIPs []netip.Prefix
}

// ParseServiceCIDRs reads a BgpConf's Service ranges. It backs both
// ValidateConf and the speakers, so a range the webhook admits is one the
// speakers advertise. Entries that fail come back as errors and are left
// out of the result.
//
// Host bits must be zero: a router would mask 10.96.0.1/12 silently, and
// the user may have meant a /32, so the error names the canonical form
// instead of guessing. A prefix listed twice in one list is refused, since
// it is surely a mistake; the same prefix in both lists is allowed and
// advertised once.
func ParseServiceCIDRs(spec *field.Path, s *v1alpha2.BgpConfSpec) (ServiceCIDRs, field.ErrorList) {
	var out ServiceCIDRs
	var errs field.ErrorList
	var e field.ErrorList
	out.ClusterIPs, e = parseBlocks(spec.Child("serviceClusterIPs"), s.ServiceClusterIPs)
	errs = append(errs, e...)
	out.ExternalIPs, e = parseBlocks(spec.Child("serviceExternalIPs"), s.ServiceExternalIPs)
	errs = append(errs, e...)
	return out, errs
}

func parseBlocks(list *field.Path, blocks []v1alpha2.ServiceIPBlock) ([]netip.Prefix, field.ErrorList) {
	var out []netip.Prefix
	var errs field.ErrorList
	seen := map[netip.Prefix]int{}
	for i, b := range blocks {
		path := list.Index(i).Child("cidr")
		p, err := parseCIDR(path, b.CIDR)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if first, dup := seen[p]; dup {
			e := field.Duplicate(path, b.CIDR)
			e.Detail = fmt.Sprintf("the same prefix as %s (%q); list each range once", list.Index(first).Child("cidr"), blocks[first].CIDR)
			errs = append(errs, e)
			continue
		}
		seen[p] = i
		out = append(out, p)
	}
	return out, errs
}

// parseCIDR reads one prefix in canonical form.
func parseCIDR(path *field.Path, s string) (netip.Prefix, *field.Error) {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, field.Invalid(path, s,
			"not a CIDR; write an IPv4 or IPv6 prefix such as 10.96.0.0/12 or fd00:96::/108")
	}
	if p.Addr().Is4In6() {
		return netip.Prefix{}, field.Invalid(path, s, fmt.Sprintf(
			"an IPv4-mapped IPv6 prefix; write the IPv4 prefix instead (%s)", unmapPrefix(p)))
	}
	if m := p.Masked(); m != p {
		return netip.Prefix{}, field.Invalid(path, s, fmt.Sprintf("has host bits set; did you mean %q?", m.String()))
	}
	return p, nil
}

// unmapPrefix turns ::ffff:10.0.0.0/104 into 10.0.0.0/8, for the advice.
func unmapPrefix(p netip.Prefix) netip.Prefix {
	bits := p.Bits() - 96
	if bits < 0 {
		bits = 0
	}
	return netip.PrefixFrom(p.Addr().Unmap(), bits).Masked()
}

// defaultRouteWarnings warns about a /0 range: every node would attract
// all traffic its routers have no better route for.
func defaultRouteWarnings(spec *field.Path, s *v1alpha2.BgpConfSpec) []string {
	var warnings []string
	for _, l := range []struct {
		name   string
		blocks []v1alpha2.ServiceIPBlock
	}{{"serviceClusterIPs", s.ServiceClusterIPs}, {"serviceExternalIPs", s.ServiceExternalIPs}} {
		for i, b := range l.blocks {
			if p, err := netip.ParsePrefix(b.CIDR); err == nil && p.Bits() == 0 {
				warnings = append(warnings, fmt.Sprintf(
					"%s: %s is a default route; every node will advertise it, and routers will send the nodes all traffic they have no better route for",
					spec.Child(l.name).Index(i).Child("cidr"), b.CIDR))
			}
		}
	}
	return warnings
}
