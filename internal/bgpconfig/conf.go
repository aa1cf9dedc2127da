package bgpconfig

import (
	"fmt"
	"net/netip"
	"slices"

	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/herald-lb/herald/api/v1alpha2"
)

// maxRestartTime is the largest graceful-restart time: the Restart Time
// field of the capability is 12 bits wide (RFC 4724 §3).
const maxRestartTime = 4095

// ValidateConf checks a BgpConf. OpenELB used only the BgpConf named
// "default" and silently ignored any other, so a misnamed one left the
// speakers unconfigured with no message; Herald refuses it instead.
//
// A set routerId is admitted with a warning: OpenELB applies it to every
// node, which works only when each node peers with different routers.
func ValidateConf(c *v1alpha2.BgpConf) (warnings []string, errs field.ErrorList) {
	if c.Name != v1alpha2.BgpConfName {
		errs = append(errs, field.Invalid(field.NewPath("metadata", "name"), c.Name,
			fmt.Sprintf("only the BgpConf named %s is used; rename it to %s", v1alpha2.BgpConfName, v1alpha2.BgpConfName)))
	}
	spec := field.NewPath("spec")
	s := &c.Spec

	if s.As == 0 {
		errs = append(errs, field.Required(spec.Child("as"),
			"the speakers' AS number, 1-4294967295 (a private AS such as 64512 or 4200000000 is usual)"))
	}
	for _, rack := range sortedKeys(s.AsPerRack) {
		path := spec.Child("asPerRack").Key(rack)
		for _, msg := range validation.IsValidLabelValue(rack) {
			errs = append(errs, field.Invalid(path, rack, fmt.Sprintf(
				"not a value the node label %s can have: %s", v1alpha2.LabelRack, msg)))
		}
		if s.AsPerRack[rack] == 0 {
			errs = append(errs, field.Invalid(path, s.AsPerRack[rack],
				"must be an AS number from 1 to 4294967295 for the nodes of this rack"))
		}
	}
	if s.RouterId != "" {
		if err := validateRouterID(spec.Child("routerId"), s.RouterId); err != nil {
			errs = append(errs, err)
		} else {
			warnings = append(warnings, fmt.Sprintf(
				"spec.routerId: every node will use %s as its BGP router ID, so a router that peers with several nodes sees the same router ID on every session; leave routerId empty so each node uses its own address",
				s.RouterId))
		}
	}
	if s.ListenPort < 0 || s.ListenPort > 65535 {
		errs = append(errs, field.Invalid(spec.Child("listenPort"), s.ListenPort,
			"must be a TCP port from 1 to 65535, or 0/unset for no listener (OpenELB's samples use 17900 so as not to collide with a CNI's BGP daemon on 179)"))
	}
	for i, a := range s.ListenAddresses {
		if _, err := parseIP(a); err != nil {
			errs = append(errs, field.Invalid(spec.Child("listenAddresses").Index(i), a,
				"not an IP address; list IPv4 or IPv6 addresses of the nodes (0.0.0.0 and :: mean all)"))
		}
	}
	errs = append(errs, validateGracefulRestart(spec.Child("gracefulRestart"), s.GracefulRestart)...)
	_, cidrErrs := ParseServiceCIDRs(spec, s)
	errs = append(errs, cidrErrs...)
	warnings = append(warnings, defaultRouteWarnings(spec, s)...)
	errs = append(errs, validateCommunities(spec.Child("communities"), s.Communities)...)
	return warnings, errs
}

// validateRouterID checks a BGP Identifier: an IPv4 address other than
// 0.0.0.0 (RFC 6286 §2.1).
func validateRouterID(path *field.Path, id string) *field.Error {
	a, err := netip.ParseAddr(id)
	if err != nil || !a.Is4() {
		return field.Invalid(path, id,
			"must be an IPv4 address (a BGP router ID is 32 bits, even on IPv6 sessions); better, leave it empty so each node uses its own address")
	}
	if a.IsUnspecified() {
		return field.Invalid(path, id,
			"must not be 0.0.0.0 (RFC 6286); leave it empty so each node uses its own address")
	}
	return nil
}

// validateGracefulRestart checks the graceful-restart settings shared by
// BgpConf and BgpPeer.
func validateGracefulRestart(path *field.Path, gr *v1alpha2.GracefulRestart) field.ErrorList {
	if gr == nil || gr.RestartTime <= maxRestartTime {
		return nil
	}
	return field.ErrorList{field.Invalid(path.Child("restartTime"), gr.RestartTime,
		"must be at most 4095 seconds (the Restart Time field is 12 bits, RFC 4724 §3); 120 is usual")}
}

// parseIP reads an address without an IPv6 zone: a zone names an interface
// of one node and means nothing to the others.
func parseIP(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("parse %q: %w", s, err)
	}
	if a.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("%q: an IPv6 zone names one node's interface", s)
	}
	return a, nil
}

// sortedKeys gives map keys in order, so errors come out the same way
// every time.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
