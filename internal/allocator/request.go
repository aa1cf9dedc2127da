package allocator

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// Family is an IP family.
type Family int

// IP families, in the order Kubernetes names them.
const (
	IPv4 Family = 4
	IPv6 Family = 6
)

func (f Family) String() string {
	if f == IPv6 {
		return "IPv6"
	}
	return "IPv4"
}

// FamilyOf returns the family of an address.
func FamilyOf(a netip.Addr) Family {
	if a.Is4() {
		return IPv4
	}
	return IPv6
}

// Port is one (port, protocol) pair a Service exposes; sharing an address
// needs disjoint sets of them.
type Port struct {
	Port     int32
	Protocol string
}

// Request is what one Service asks for, already read from its annotations
// and spec by the controller.
type Request struct {
	// Key is "namespace/name".
	Key string
	// Namespace and NamespaceLabels decide which pools are bound to it.
	Namespace       string
	NamespaceLabels map[string]string
	// Pools are the Eips the Service names (normally one; one per family
	// for dual-stack), in the order written.
	Pools []string
	// Addresses are specific addresses the Service asks for.
	Addresses []netip.Addr
	// Families are the families the Service wants, in preference order, as
	// the API server resolved spec.ipFamilies.
	Families []Family
	// RequireAllFamilies fails the request unless every family in Families
	// gets an address (ipFamilyPolicy RequireDualStack).
	RequireAllFamilies bool
	// Ports are the Service's (port, protocol) pairs.
	Ports []Port
	// ClusterTraffic is true for externalTrafficPolicy Cluster.
	ClusterTraffic bool
	// Selector is the Service's pod selector in canonical text form.
	Selector string
	// SharingKey is the Service's sharing key (herald.io/allow-shared-ip,
	// or MetalLB's with the migration opt-in); empty for none. Services
	// with the same key share an address in any namespace, and a keyed
	// Service asking for no address joins one its key already holds.
	SharingKey string
}

// Reason classifies an allocation failure; the controller turns it into a
// Warning event and retries when the world changes.
type Reason string

// Failure reasons.
const (
	ReasonEipNotFound          Reason = "EipNotFound"
	ReasonEipDisabled          Reason = "EipDisabled"
	ReasonNamespaceNotAdmitted Reason = "NamespaceNotAdmitted"
	ReasonIPOutsideEips        Reason = "IPOutsideEips"
	ReasonIPInUse              Reason = "IPInUse"
	ReasonPoolExhausted        Reason = "PoolExhausted"
	ReasonNoPool               Reason = "NoPool"
	ReasonFamilyMismatch       Reason = "FamilyMismatch"
	ReasonInvalidRequest       Reason = "InvalidRequest"
	ReasonAddressConflict      Reason = "AddressConflict"
	// ReasonIPAvoided is a request for an address that the Eip's
	// avoidBuggyIPs keeps from being handed out.
	ReasonIPAvoided Reason = "IPAvoided"
)

// Error is an allocation failure with its reason.
type Error struct {
	Reason  Reason
	Message string
}

func (e *Error) Error() string { return e.Message }

func failf(reason Reason, format string, args ...any) error {
	return &Error{Reason: reason, Message: fmt.Sprintf(format, args...)}
}

// ReasonOf returns the reason of an allocation error, or "" for nil.
func ReasonOf(err error) Reason {
	var ae *Error
	if errors.As(err, &ae) {
		return ae.Reason
	}
	if err != nil {
		return ReasonInvalidRequest
	}
	return ""
}

// holder is one Service's claim on an address.
type holder struct {
	key            string
	namespace      string
	ports          []Port
	clusterTraffic bool
	selector       string
	explicit       bool
	sharingKey     string
}

func holderOf(r Request, explicit bool) holder {
	ports := slices.Clone(r.Ports)
	slices.SortFunc(ports, comparePorts)
	return holder{
		key:            r.Key,
		namespace:      r.Namespace,
		ports:          ports,
		clusterTraffic: r.ClusterTraffic,
		selector:       r.Selector,
		explicit:       explicit,
		sharingKey:     r.SharingKey,
	}
}

func comparePorts(a, b Port) int {
	if c := strings.Compare(a.Protocol, b.Protocol); c != 0 {
		return c
	}
	return int(a.Port) - int(b.Port)
}

// canShareWith reports whether h may hold an address together with others.
// Services with a sharing key share only with Services of the same key, in
// any namespace, joining without having asked for the address. Services
// without one follow OpenELB's rule: joining an address someone holds needs
// every holder to have asked for it explicitly, in the same namespace;
// keeping one (a restart, a changed Service) needs only the namespace,
// port and traffic rules, because the sharing was agreed when the address
// was granted. Either way the (port, protocol) sets must be disjoint and
// the traffic policies compatible.
func (h holder) canShareWith(others []holder, joining bool) (bool, string) {
	for _, o := range others {
		if o.key == h.key {
			continue
		}
		switch {
		case h.sharingKey != o.sharingKey:
			return false, fmt.Sprintf("held by %s, %s", o.key, describeKeys(o.sharingKey, h.sharingKey))
		case h.sharingKey == "" && joining && (!h.explicit || !o.explicit):
			return false, fmt.Sprintf("held by %s", o.key)
		case h.sharingKey == "" && o.namespace != h.namespace:
			return false, fmt.Sprintf("held by %s in another namespace (Services of different namespaces share an address only with the same sharing key)", o.key)
		}
		if p, clash := portsClash(h.ports, o.ports); clash {
			return false, fmt.Sprintf("held by %s, which also uses %d/%s", o.key, p.Port, p.Protocol)
		}
		if !(h.clusterTraffic && o.clusterTraffic) && h.selector != o.selector {
			return false, fmt.Sprintf("held by %s; sharing needs externalTrafficPolicy Cluster on both or identical selectors", o.key)
		}
	}
	return true, ""
}

// describeKeys says why two different sharing keys forbid sharing.
func describeKeys(theirs, mine string) string {
	switch {
	case theirs == "":
		return fmt.Sprintf("which has no sharing key, and this Service has %q", mine)
	case mine == "":
		return fmt.Sprintf("which has sharing key %q, and this Service has none", theirs)
	default:
		return fmt.Sprintf("which has sharing key %q, and this Service has %q", theirs, mine)
	}
}

func portsClash(a, b []Port) (Port, bool) {
	for _, p := range a {
		if _, found := slices.BinarySearchFunc(b, p, comparePorts); found {
			return p, true
		}
	}
	return Port{}, false
}
