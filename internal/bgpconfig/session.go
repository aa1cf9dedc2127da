package bgpconfig

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/herald-lb/herald/api/v1alpha2"
)

// BFD interval bounds: whole milliseconds, so that every BFD
// implementation (microseconds on the wire, milliseconds in most router
// configurations) reads the same value; below 10ms the speakers' Go timers
// cannot keep up, above 60s BFD detects nothing the hold time does not.
const (
	minBfdInterval = 10 * time.Millisecond
	maxBfdInterval = 60 * time.Second
)

// maxInterfaceName is IFNAMSIZ less the terminating NUL.
const maxInterfaceName = 15

// validateSourceAddress checks spec.sourceAddress: exactly one rule, an
// interface name the kernel would accept or a canonical CIDR of the
// neighbour's family (a node has no address of the other family to bind
// the session to).
func validateSourceAddress(path *field.Path, sa *v1alpha2.PeerSourceAddress, conf *v1alpha2.PeerConf) (warnings []string, errs field.ErrorList) {
	if sa == nil {
		return nil, nil
	}
	switch {
	case sa.Interface != "" && sa.CIDR != "":
		return nil, field.ErrorList{field.Forbidden(path, fmt.Sprintf(
			"set either interface (%s) or cidr (%s), not both: each node picks its address by one rule; keep one of them",
			sa.Interface, sa.CIDR))}
	case sa.Interface == "" && sa.CIDR == "":
		return nil, field.ErrorList{field.Required(path,
			"set interface (the node interface whose address to use, e.g. eth1) or cidr (a prefix that holds the node's address, e.g. 10.99.0.0/24); or remove sourceAddress to let the kernel choose")}
	case sa.Interface != "":
		if msg := interfaceNameProblem(sa.Interface); msg != "" {
			errs = append(errs, field.Invalid(path.Child("interface"), sa.Interface, msg))
		}
		return nil, errs
	}
	p, err := netip.ParsePrefix(sa.CIDR)
	if err != nil {
		return nil, field.ErrorList{field.Invalid(path.Child("cidr"), sa.CIDR,
			"not a CIDR; write a prefix that holds the nodes' addresses, for example 10.99.0.0/24 or 2001:db8:99::/64")}
	}
	if canonical := p.Masked().String(); canonical != sa.CIDR {
		return nil, field.ErrorList{field.Invalid(path.Child("cidr"), sa.CIDR,
			fmt.Sprintf("not in canonical form; did you mean %q?", canonical))}
	}
	if conf == nil {
		return nil, nil
	}
	if n, err := parseIP(conf.NeighborAddress); err == nil && n.Is4() != p.Addr().Is4() {
		return nil, field.ErrorList{field.Invalid(path.Child("cidr"), sa.CIDR, fmt.Sprintf(
			"is %s but the neighbour %s is %s: the session's local address is of the neighbour's family; write an %s CIDR",
			family(p.Addr()), conf.NeighborAddress, family(n), family(n)))}
	}
	return nil, nil
}

// interfaceNameProblem says why the kernel would refuse name as an
// interface name (dev_valid_name), or "" when it would not.
func interfaceNameProblem(name string) string {
	if len(name) > maxInterfaceName || name == "." || name == ".." || strings.ContainsAny(name, "/: \t\n\r\v\f") {
		return "not a Linux interface name (1 to 15 characters, no '/', ':' or blanks, not . or ..), for example eth1 or bond0.100"
	}
	return ""
}

func family(a netip.Addr) string {
	if a.Is4() {
		return "IPv4"
	}
	return "IPv6"
}

// validateBfd checks spec.bfd. Herald's BFD is single hop (RFC 5881: TTL
// 255, UDP port 3784), so it cannot watch a multihop session, whose
// packets arrive with a lower TTL and would be dropped.
func validateBfd(path *field.Path, b *v1alpha2.PeerBfd, multihop *v1alpha2.EbgpMultihop) (warnings []string, errs field.ErrorList) {
	if b == nil {
		return nil, nil
	}
	interval := func(name string, d *metav1.Duration) {
		if d == nil {
			return
		}
		if d.Duration < minBfdInterval || d.Duration > maxBfdInterval || d.Duration%time.Millisecond != 0 {
			errs = append(errs, field.Invalid(path.Child(name), d.Duration.String(),
				"want whole milliseconds from 10ms to 60s, for example 300ms"))
		}
	}
	interval("transmitInterval", b.TransmitInterval)
	interval("receiveInterval", b.ReceiveInterval)
	if m := b.DetectMultiplier; m != nil && (*m < 2 || *m > 255) {
		errs = append(errs, field.Invalid(path.Child("detectMultiplier"), *m,
			"must be from 2 to 255 (the field is 8 bits and 1 would drop the session on a single lost packet); 3 is usual"))
	}
	if b.Enabled && multihop != nil && multihop.Enabled {
		errs = append(errs, field.Forbidden(path.Child("enabled"),
			"Herald's BFD is single hop (RFC 5881) and cannot run beside ebgpMultihop: turn ebgpMultihop off if the router is directly connected, or turn bfd off"))
	}
	if !b.Enabled && (b.TransmitInterval != nil || b.ReceiveInterval != nil || b.DetectMultiplier != nil) {
		warnings = append(warnings,
			"spec.bfd: transmitInterval, receiveInterval and detectMultiplier have no effect while spec.bfd.enabled is false; set enabled: true to run BFD, or remove them")
	}
	return warnings, errs
}
