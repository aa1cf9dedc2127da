package eippool

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/internal/iprange"
	"github.com/herald-lb/herald/internal/selector"
	"github.com/herald-lb/herald/keepalived"
)

// Pool is an Eip after validation and defaulting.
type Pool struct {
	// Name is the Eip's name.
	Name string
	// Range is the parsed spec.address.
	Range iprange.Range
	// Protocol is bgp, layer2 or vip (never empty).
	Protocol string
	// Interface is spec.interface as written, for layer2 and vip pools.
	Interface string
	// CanReach is the address of a "can_reach:<ip>" interface, else invalid.
	CanReach netip.Addr
	// Disabled pools hand out no new addresses.
	Disabled bool
	// Default marks the pool used for Services bound to no pool.
	Default bool
	// Priority orders pools bound to a namespace, lowest first.
	Priority int
	// Namespaces lists the namespaces bound by name, sorted.
	Namespaces []string
	// NamespaceSelector binds namespaces by label; nil when unset.
	NamespaceSelector labels.Selector
	// Deleting is true once the Eip has a deletion timestamp: the pool
	// keeps its allocations but hands out nothing new.
	Deleting bool
	// VRRP is a vip pool's spec.vrrp; zero when unset.
	VRRP keepalived.Override
	// NodeSelector is spec.nodeSelector: the nodes that may announce the
	// pool's addresses. Nil when unset (every node); see SelectsNode.
	NodeSelector labels.Selector
	// AvoidBuggyIPs is spec.avoidBuggyIPs: see Usable.
	AvoidBuggyIPs bool
}

// IsDefault reports whether an Eip carries the default-pool annotation.
func IsDefault(e *v1alpha2.Eip) bool {
	return e.Annotations[v1alpha2.AnnotationDefaultEip] == "true"
}

// Protocol returns the effective protocol of an Eip: bgp when unset.
func Protocol(e *v1alpha2.Eip) string {
	if e.Spec.Protocol == "" {
		return v1alpha2.ProtocolBGP
	}
	return e.Spec.Protocol
}

// FromEip validates an Eip on its own and returns its pool.
func FromEip(e *v1alpha2.Eip) (Pool, error) {
	if errs := Validate(e); len(errs) > 0 {
		return Pool{}, fmt.Errorf("eip %q: %w", e.Name, errs.ToAggregate())
	}
	return build(e), nil
}

// build assumes e passed Validate.
func build(e *v1alpha2.Eip) Pool {
	r, _ := iprange.Parse(e.Spec.Address)
	p := Pool{
		Name:      e.Name,
		Range:     r,
		Protocol:  Protocol(e),
		Interface: e.Spec.Interface,
		Disabled:  e.Spec.Disable,
		Default:   IsDefault(e),
		Priority:  e.Spec.Priority,
		Deleting:  e.DeletionTimestamp != nil,

		AvoidBuggyIPs: e.Spec.AvoidBuggyIPs,
	}
	if ip, ok := strings.CutPrefix(e.Spec.Interface, v1alpha2.InterfaceCanReachPrefix); ok {
		p.CanReach, _ = netip.ParseAddr(ip)
	}
	if len(e.Spec.Namespaces) > 0 {
		p.Namespaces = slices.Clone(e.Spec.Namespaces)
		slices.Sort(p.Namespaces)
		p.Namespaces = slices.Compact(p.Namespaces)
	}
	if len(e.Spec.NamespaceSelector) > 0 {
		p.NamespaceSelector = labels.SelectorFromSet(e.Spec.NamespaceSelector)
	}
	p.VRRP = vrrpOverride(e.Spec.VRRP)
	if e.Spec.NodeSelector != nil {
		p.NodeSelector, _ = metav1.LabelSelectorAsSelector(e.Spec.NodeSelector)
	}
	return p
}

// vrrpOverride is spec.vrrp as the renderer takes it.
func vrrpOverride(v *v1alpha2.EipVRRP) keepalived.Override {
	var o keepalived.Override
	if v == nil {
		return o
	}
	if v.AdvertInterval != nil {
		o.AdvertInterval = v.AdvertInterval.Duration
	}
	if v.PreemptDelay != nil {
		d := v.PreemptDelay.Duration
		o.PreemptDelay = &d
	}
	if v.Unicast != nil {
		u := *v.Unicast
		o.Unicast = &u
	}
	return o
}

// validateVRRP checks spec.vrrp: vip Eips only, and values keepalived
// takes as written.
func validateVRRP(path *field.Path, protocol string, v *v1alpha2.EipVRRP) field.ErrorList {
	if v == nil {
		return nil
	}
	if protocol != v1alpha2.ProtocolVIP {
		return field.ErrorList{field.Forbidden(path, fmt.Sprintf(
			"VRRP settings apply to vip Eips only; this Eip's protocol is %s: remove spec.vrrp, or set spec.protocol to vip", protocol))}
	}
	var errs field.ErrorList
	if a := v.AdvertInterval; a != nil {
		if err := (keepalived.Override{AdvertInterval: a.Duration}).Validate(); err != nil || a.Duration == 0 {
			errs = append(errs, field.Invalid(path.Child("advertInterval"), a.Duration.String(),
				"want whole centiseconds from 10ms to 40.95s (VRRP's limits), e.g. 1s or 100ms"))
		}
	}
	if d := v.PreemptDelay; d != nil {
		if err := (keepalived.Override{PreemptDelay: &d.Duration}).Validate(); err != nil {
			errs = append(errs, field.Invalid(path.Child("preemptDelay"), d.Duration.String(),
				"want whole centiseconds from 0s to 1000s (keepalived's limit), e.g. 30s"))
		}
	}
	return errs
}

// Validate checks everything about an Eip that needs no other object.
func Validate(e *v1alpha2.Eip) field.ErrorList {
	var errs field.ErrorList
	spec := field.NewPath("spec")

	r, err := iprange.Parse(e.Spec.Address)
	if err != nil {
		errs = append(errs, field.Invalid(spec.Child("address"), e.Spec.Address,
			fmt.Sprintf("%v; write one address (192.168.0.10), a CIDR (192.168.0.0/24) or an inclusive range (192.168.0.91-192.168.0.100), all IPv4 or all IPv6", err)))
	}

	protocol := Protocol(e)
	switch protocol {
	case v1alpha2.ProtocolBGP, v1alpha2.ProtocolLayer2, v1alpha2.ProtocolVIP:
	default:
		errs = append(errs, field.NotSupported(spec.Child("protocol"), e.Spec.Protocol,
			[]string{v1alpha2.ProtocolBGP, v1alpha2.ProtocolLayer2, v1alpha2.ProtocolVIP}))
	}

	errs = append(errs, validateInterface(spec.Child("interface"), protocol, e.Spec.Interface)...)
	errs = append(errs, validateVRRP(spec.Child("vrrp"), protocol, e.Spec.VRRP)...)
	errs = append(errs, validateAdvertisements(spec.Child("bgpAdvertisements"), protocol, r, e.Spec.BgpAdvertisements)...)

	for i, ns := range e.Spec.Namespaces {
		for _, msg := range validation.IsDNS1123Label(ns) {
			errs = append(errs, field.Invalid(spec.Child("namespaces").Index(i), ns, "not a namespace name: "+msg))
		}
	}
	if len(e.Spec.NamespaceSelector) > 0 {
		if _, err := labels.ValidatedSelectorFromSet(e.Spec.NamespaceSelector); err != nil {
			errs = append(errs, field.Invalid(spec.Child("namespaceSelector"), e.Spec.NamespaceSelector,
				fmt.Sprintf("not a valid label set: %v", err)))
		}
	}
	errs = append(errs, selector.Validate(spec.Child("nodeSelector"), e.Spec.NodeSelector)...)
	if v, ok := e.Annotations[v1alpha2.AnnotationDefaultEip]; ok && v != "true" && v != "false" {
		errs = append(errs, field.Invalid(field.NewPath("metadata", "annotations").Key(v1alpha2.AnnotationDefaultEip), v,
			`must be "true" or "false"`))
	}
	return errs
}

func validateInterface(path *field.Path, protocol, iface string) field.ErrorList {
	if iface == "" {
		if protocol == v1alpha2.ProtocolLayer2 || protocol == v1alpha2.ProtocolVIP {
			return field.ErrorList{field.Required(path, fmt.Sprintf(
				"a %s Eip must name the node interface that answers for its addresses: an interface name (eth0) or can_reach:<ip of a router on that network>", protocol))}
		}
		return nil
	}
	if ip, ok := strings.CutPrefix(iface, v1alpha2.InterfaceCanReachPrefix); ok {
		a, err := netip.ParseAddr(ip)
		if err != nil || a.Zone() != "" {
			return field.ErrorList{field.Invalid(path, iface,
				"can_reach: must be followed by one IPv4 or IPv6 address, for example can_reach:192.168.0.1")}
		}
		return nil
	}
	if len(iface) > 15 || strings.ContainsAny(iface, "/ \t:") {
		return field.ErrorList{field.Invalid(path, iface,
			"not a Linux interface name (at most 15 characters, no '/', ':' or blanks); or use can_reach:<ip>")}
	}
	return nil
}

// BindsNamespace reports whether the pool is bound to a namespace with this
// name and these labels.
func (p Pool) BindsNamespace(name string, nsLabels map[string]string) bool {
	if _, found := slices.BinarySearch(p.Namespaces, name); found {
		return true
	}
	return p.NamespaceSelector != nil && p.NamespaceSelector.Matches(labels.Set(nsLabels))
}

// IsBound reports whether the pool is restricted to some namespaces.
func (p Pool) IsBound() bool {
	return len(p.Namespaces) > 0 || p.NamespaceSelector != nil
}

// Admits reports whether a Service in this namespace may use the pool: a
// bound pool admits its namespaces only, an unbound pool everyone.
func (p Pool) Admits(name string, nsLabels map[string]string) bool {
	return !p.IsBound() || p.BindsNamespace(name, nsLabels)
}

// SelectsNode reports whether a node with these labels may announce the
// pool's addresses: spec.nodeSelector matches them (no selector matches
// every node) and the node does not carry
// node.kubernetes.io/exclude-from-external-load-balancers, with any value,
// which keeps a node from announcing any pool's addresses (the label
// cloud load balancers honour, which kubeadm puts on control-plane nodes).
func (p Pool) SelectsNode(nodeLabels map[string]string) bool {
	if ExcludesNode(nodeLabels) {
		return false
	}
	return p.NodeSelector == nil || p.NodeSelector.Matches(labels.Set(nodeLabels))
}

// ExcludesNode reports whether a node with these labels announces no
// pool's addresses: it carries
// node.kubernetes.io/exclude-from-external-load-balancers, whatever the
// value.
func ExcludesNode(nodeLabels map[string]string) bool {
	_, ok := nodeLabels[corev1.LabelNodeExcludeBalancers]
	return ok
}

// CanAllocate reports whether the pool may hand out new addresses.
func (p Pool) CanAllocate() bool {
	return !p.Disabled && !p.Deleting
}
