package v1alpha2

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Protocols an Eip can be announced with. The empty string means ProtocolBGP,
// as in OpenELB.
const (
	ProtocolBGP    = "bgp"
	ProtocolLayer2 = "layer2"
	ProtocolVIP    = "vip"
)

// Annotations and labels that are part of the API contract with users.
const (
	// AnnotationDefaultEip marks the Eip used for Services bound to no pool.
	AnnotationDefaultEip = "eip.openelb.kubesphere.io/is-default-eip"
	// AnnotationLoadBalancer opts a Service in (value "openelb").
	AnnotationLoadBalancer = "lb.kubesphere.io/v1alpha1"
	// AnnotationLoadBalancerValue is the value AnnotationLoadBalancer must have.
	AnnotationLoadBalancerValue = "openelb"
	// AnnotationEip names the Eip a Service allocates from.
	AnnotationEip = "eip.openelb.kubesphere.io/v1alpha2"
	// AnnotationEipShort is the short alias of AnnotationEip.
	AnnotationEipShort = "lb.kubesphere.io/eip"
	// AnnotationRequestedIP asks for one specific address (or, comma
	// separated, one per IP family).
	AnnotationRequestedIP = "eip.openelb.kubesphere.io/v1alpha1"
	// AnnotationProtocol is the legacy protocol hint of older OpenELB
	// releases; it is accepted and ignored in favour of the Eip's protocol.
	AnnotationProtocol = "protocol.openelb.kubesphere.io/v1alpha1"
	// AnnotationLayer2Node is written by the speaker: the node that answers
	// ARP/NDP for the Service's address.
	AnnotationLayer2Node = "layer2.openelb.kubesphere.io/v1alpha1"
	// AnnotationVIPHolder is written by the speaker of the node whose
	// keepalived holds the Service's vip address (VRRP master). Herald's
	// own: OpenELB reports no VIP holder. It names the last node that
	// became master; none writes while nobody is (all BACKUP or FAULT).
	AnnotationVIPHolder = "vip.herald.io/holder"
	// AnnotationAllowSharedIP is Herald's sharing key: Services that carry
	// the same value may share one address (disjoint ports, compatible
	// traffic policies), in any namespace. MetalLB's two annotations below
	// are read as aliases of it when the MetalLB migration is switched on
	// (herald-config's metallb-annotations); Herald's own wins.
	AnnotationAllowSharedIP = "herald.io/allow-shared-ip"
	// AnnotationMetalLBAllowSharedIP and AnnotationMetalLBAllowSharedIPLegacy
	// are MetalLB's sharing keys, read as AnnotationAllowSharedIP when the
	// MetalLB migration is switched on.
	AnnotationMetalLBAllowSharedIP       = "metallb.io/allow-shared-ip"
	AnnotationMetalLBAllowSharedIPLegacy = "metallb.universe.tf/allow-shared-ip"
	// AnnotationMetalLBAddressPool and AnnotationMetalLBAddressPoolLegacy
	// name the pool of a Service written for MetalLB; Herald reads them as
	// an Eip name when the MetalLB migration is switched on.
	AnnotationMetalLBAddressPool       = "metallb.io/address-pool"
	AnnotationMetalLBAddressPoolLegacy = "metallb.universe.tf/address-pool"
	// AnnotationMetalLBLoadBalancerIPs and
	// AnnotationMetalLBLoadBalancerIPsLegacy request addresses (comma
	// separated, one per family) of a Service written for MetalLB; read
	// when the MetalLB migration is switched on.
	AnnotationMetalLBLoadBalancerIPs       = "metallb.io/loadBalancerIPs"
	AnnotationMetalLBLoadBalancerIPsLegacy = "metallb.universe.tf/loadBalancerIPs"
	// InterfaceCanReachPrefix selects the interface that routes to an address
	// ("can_reach:192.168.0.1") instead of naming it.
	InterfaceCanReachPrefix = "can_reach:"
)

// Condition types used in Eip status.
const (
	// ConditionReady is true when the Eip's address parses, it is accepted
	// and can hand out addresses. It is false, with the reason, also when
	// the Eip is valid but Herald knows nothing delivers traffic for its
	// addresses (a vip Eip, a bgp Eip without BgpConf or BgpPeer, a layer2
	// Eip no live node can answer for); status.ready stays true then.
	ConditionReady = "Ready"
	// ConditionKubeProxyCompatible is set on layer2 Eips only. It is false
	// when kube-proxy runs in IPVS mode without strictARP: every node then
	// answers ARP for the pool's addresses, not only the one Herald
	// chose. It is unknown when kube-proxy's configuration cannot be read
	// (no kube-system/kube-proxy ConfigMap, as on clusters not installed
	// by kubeadm, or one that does not parse).
	ConditionKubeProxyCompatible = "KubeProxyCompatible"
	// ConditionVRIDsAssigned is set on vip Eips only. It is true when every
	// address of the Eip in use has a VRID in status.vrids, and false when
	// the controller's VRID range (--vrrp-vrid-range minus
	// --vrrp-vrid-exclude) ran out: the addresses left without one are
	// allocated but no node serves them.
	ConditionVRIDsAssigned = "VRIDsAssigned"
	// ConditionKeepalivedConfigAccepted is set on vip Eips only, from what
	// the speakers publish in their Leases. It is false while keepalived on
	// a node refused the config its speaker rendered for this pool's
	// addresses: it keeps running the last good one, so changes since do
	// not take effect there. The speaker's KeepalivedConfigRefused event on
	// the Eip quotes keepalived.
	ConditionKeepalivedConfigAccepted = "KeepalivedConfigAccepted"
)

// EipSpec describes a pool of addresses and how they are announced.
type EipSpec struct {
	// Address is the pool: one IP ("192.168.0.10"), a CIDR
	// ("192.168.0.0/24", every address usable) or an inclusive range
	// ("192.168.0.91-192.168.0.100"), IPv4 or IPv6.
	// +kubebuilder:validation:Required
	// +kubebuilder:validation:MinLength=1
	Address string `json:"address"`
	// Protocol is how the speakers announce addresses of this pool.
	// Empty means bgp.
	// +kubebuilder:validation:Enum=bgp;layer2;vip
	// +optional
	Protocol string `json:"protocol,omitempty"`
	// Interface is the node interface that layer2 and vip pools answer on:
	// a name ("eth0") or "can_reach:<ip>" for the interface that routes to
	// that address.
	// +optional
	Interface string `json:"interface,omitempty"`
	// Disable stops the pool from handing out new addresses; addresses
	// already allocated are kept.
	// +optional
	Disable bool `json:"disable,omitempty"`
	// UsingKnownIPs allows addresses that are already in use on the network
	// (OpenELB compatibility; Herald does not probe for conflicts).
	// +optional
	UsingKnownIPs bool `json:"usingKnownIPs,omitempty"`
	// Priority orders the pools bound to a namespace: the lowest value is
	// tried first.
	// +optional
	Priority int `json:"priority,omitempty"`
	// Namespaces binds the pool to these namespaces by name.
	// +optional
	Namespaces []string `json:"namespaces,omitempty"`
	// NamespaceSelector binds the pool to the namespaces whose labels match
	// all of these.
	// +optional
	NamespaceSelector map[string]string `json:"namespaceSelector,omitempty"`
	// VRRP overrides, for the addresses of this vip Eip only, the
	// cluster-wide VRRP settings the speakers are started with
	// (herald-speaker's --vrrp-* flags). Herald's own field: OpenELB has
	// none. Only vip Eips may set it.
	// +optional
	VRRP *EipVRRP `json:"vrrp,omitempty"`

	// The fields below are Herald's additions for operators who come from
	// MetalLB; each has the meaning of the MetalLB setting its comment
	// names. OpenELB has none of them.

	// AvoidBuggyIPs keeps the addresses ending in .0 and .255 of an IPv4
	// pool out of allocation, for networks with old equipment that drops
	// them as smurf protection (MetalLB's avoid-buggy-ips). poolSize counts
	// only the addresses left. Ignored by IPv6 pools.
	// +optional
	AvoidBuggyIPs bool `json:"avoidBuggyIPs,omitempty"`
	// NodeSelector limits which nodes may announce this Eip's addresses, in
	// every mode: the Layer2 owner, the BGP next hops and the VIP
	// participants are chosen among the matching nodes only (MetalLB's
	// node selectors on its advertisements). Empty means every node. Nodes
	// labelled node.kubernetes.io/exclude-from-external-load-balancers never
	// announce, whatever this says.
	// +optional
	NodeSelector *metav1.LabelSelector `json:"nodeSelector,omitempty"`
	// BgpAdvertisements say how a bgp Eip's addresses are announced, to
	// which BgpPeers and with which attributes (MetalLB's
	// bgp-advertisements). Each advertisement is sent to the peers it
	// selects; a peer that no advertisement selects gets none of this
	// Eip's routes. Empty means one advertisement to every peer: each
	// address as a /32 or /128, without local preference or communities.
	// Only bgp Eips may set it.
	// +kubebuilder:validation:MaxItems=16
	// +listType=atomic
	// +optional
	BgpAdvertisements []BgpAdvertisement `json:"bgpAdvertisements,omitempty"`
}

// BgpAdvertisement is one way a bgp Eip's addresses are announced.
type BgpAdvertisement struct {
	// AggregationLength is the prefix length IPv4 addresses in use are
	// announced with: 32 (the default) announces each address on its own;
	// 24 announces the /24 that holds them once, while at least one
	// address inside it is in use. A length shorter than the Eip's own
	// CIDR would announce addresses outside the pool and needs
	// allowForeignAggregate. Addresses of Services with
	// externalTrafficPolicy Local are always announced one by one, from
	// the nodes with a ready endpoint only.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=32
	// +optional
	AggregationLength *int32 `json:"aggregationLength,omitempty"`
	// AggregationLengthV6 is AggregationLength for IPv6 (default 128).
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=128
	// +optional
	AggregationLengthV6 *int32 `json:"aggregationLengthV6,omitempty"`
	// AllowForeignAggregate admits an aggregation length that covers
	// addresses outside the Eip (a /24 announced for a range of ten), for
	// operators who own the whole aggregate.
	// +optional
	AllowForeignAggregate bool `json:"allowForeignAggregate,omitempty"`
	// LocalPref is the LOCAL_PREF attribute of the routes. BGP sends it to
	// iBGP peers only; the webhook warns when the advertisement reaches an
	// eBGP peer.
	// +optional
	LocalPref *uint32 `json:"localPref,omitempty"`
	// Communities are attached to the routes: standard ones as
	// "65535:65282", large ones as "large:1:2:3", the well-known names
	// (no-export, no-advertise, no-export-subconfed, no-peer, blackhole,
	// graceful-shutdown, accept-own, llgr-stale, no-llgr) and the aliases
	// of BgpConf "default"'s spec.communities.
	// +kubebuilder:validation:MaxItems=32
	// +listType=atomic
	// +optional
	Communities []string `json:"communities,omitempty"`
	// Peers names the BgpPeers that get this advertisement. Together with
	// PeerSelector (either may match); both empty means every peer.
	// +kubebuilder:validation:MaxItems=64
	// +listType=set
	// +optional
	Peers []string `json:"peers,omitempty"`
	// PeerSelector selects the BgpPeers that get this advertisement by
	// their labels.
	// +optional
	PeerSelector *metav1.LabelSelector `json:"peerSelector,omitempty"`
}

// EipVRRP are a vip Eip's own VRRP settings; an unset field keeps the
// cluster's. Every node renders the Eip's keepalived instances with them,
// so changing one on a live Eip makes the nodes reload keepalived at
// about the same moment; for that moment they may disagree.
type EipVRRP struct {
	// AdvertInterval is how often the holder advertises: whole
	// centiseconds from 10ms to 40.95s. Failover takes about three
	// intervals, so 100ms fails over in ~0.35 s instead of ~3.4 s, for ten
	// times the adverts. Sub-second intervals run VRRPv3.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$`
	// +optional
	AdvertInterval *metav1.Duration `json:"advertInterval,omitempty"`
	// PreemptDelay makes a higher-ranked node that returns wait this long
	// before taking its addresses back (at most 1000s), e.g. until its
	// kube-proxy has synced after a reboot.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$`
	// +optional
	PreemptDelay *metav1.Duration `json:"preemptDelay,omitempty"`
	// Unicast sends this Eip's adverts to the other participants'
	// addresses instead of the VRRP multicast group, for networks that
	// block multicast.
	// +optional
	Unicast *bool `json:"unicast,omitempty"`
}

// EipStatus is what the controller observed and allocated from the pool.
type EipStatus struct {
	// Occupied is true when every address of the pool is in use.
	Occupied bool `json:"occupied,omitempty"`
	// Usage is the number of addresses in use.
	Usage int `json:"usage,omitempty"`
	// PoolSize is the number of addresses in the pool.
	PoolSize int `json:"poolSize,omitempty"`
	// Used maps each address in use to the Services holding it
	// ("namespace/name", several joined by ";" when shared), as OpenELB
	// writes it. An entry costs the stored Eip about 56 bytes when the
	// Service is named like "team-07/web-12345", 20 of them its
	// managedFields entry: past about 28,000 such addresses the API
	// server drops the Eip's managedFields to fit etcd's 1.5 MiB request
	// limit, and past about 44,000 etcd refuses every status write. Once
	// it would cost more than herald-controller's
	// --eip-status-used-max-bytes (512 KiB, about 9,000 such addresses),
	// or always with
	// --eip-status-used=compact, the controller writes usedCompact
	// instead and this map is absent, except for addresses usedCompact
	// cannot express (an IPv6 address 2^64 or more after the pool's first
	// one).
	Used map[string]string `json:"used,omitempty"`
	// UsedCompact lists the addresses in use without their Services, in
	// a few bytes per run of consecutive addresses; present only when
	// the controller writes it instead of used (see used). The
	// Services' own status.loadBalancer says which Service holds which
	// address. Herald's own field: OpenELB has none.
	// +optional
	UsedCompact *EipUsedCompact `json:"usedCompact,omitempty"`
	// FirstIP is the first address of the pool.
	FirstIP string `json:"firstIP,omitempty"`
	// LastIP is the last address of the pool.
	LastIP string `json:"lastIP,omitempty"`
	// Ready is true when the pool is valid and accepted.
	Ready bool `json:"ready,omitempty"`
	// V4 is true for an IPv4 pool.
	V4 bool `json:"v4,omitempty"`
	// VRIDs maps each address of a vip Eip in use to the VRRP virtual
	// router ID of its keepalived instance; absent on other Eips. The
	// controller assigns them, unique per address family across the
	// cluster's vip Eips and inside its configured range, and never changes
	// a VRID while its address stays in use: a live instance whose VRID
	// changes leaves its address unheld for seconds. The speakers only read
	// them. An address in use without an entry has no VRID (see the
	// VRIDsAssigned condition).
	// +optional
	VRIDs map[string]int32 `json:"vrids,omitempty"`
	// Conditions explain Ready and deletion in words and, on layer2
	// Eips, whether kube-proxy lets one node alone answer ARP for the
	// pool's addresses (KubeProxyCompatible).
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// EipUsedCompact is status.used without the Services: which addresses,
// counted from Base, are in use. It costs a few bytes per run of
// consecutive addresses, and the allocator hands them out lowest first:
// 60,000 addresses in use from the start of a /16 take a dozen bytes,
// and under 16 KB however they are scattered in it; anywhere in an IPv4
// pool an address costs at most 8 characters (480 KB for 60,000).
type EipUsedCompact struct {
	// Base is the address Runs counts from: the pool's first address
	// when the status was written. It is kept so that the runs read
	// right after spec.address changed.
	Base string `json:"base"`
	// Count is how many addresses Runs marks in use; a reader checks it
	// against what it decoded.
	Count int `json:"count"`
	// Runs is base64 (standard alphabet, padded) of unsigned varints
	// (LEB128, as Go's encoding/binary.AppendUvarint writes them), in
	// pairs: the number of free addresses before a run of addresses in
	// use, counted from Base or from the end of the previous run, then
	// the length of that run (at least 1). Runs come in address order
	// and never touch.
	Runs string `json:"runs"`
}

// Eip is a pool of external addresses for LoadBalancer Services.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:storageversion
// +kubebuilder:resource:scope=Cluster,shortName=eip,categories=networking
// +kubebuilder:printcolumn:name="CIDR",type=string,JSONPath=`.spec.address`
// +kubebuilder:printcolumn:name="USAGE",type=integer,JSONPath=`.status.usage`
// +kubebuilder:printcolumn:name="TOTAL",type=integer,JSONPath=`.status.poolSize`
// +kubebuilder:printcolumn:name="PROTOCOL",type=string,JSONPath=`.spec.protocol`
// +kubebuilder:printcolumn:name="AGE",type=date,JSONPath=`.metadata.creationTimestamp`
type Eip struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   EipSpec   `json:"spec,omitempty"`
	Status EipStatus `json:"status,omitempty"`
}

// EipList is a list of Eips.
//
// +kubebuilder:object:root=true
type EipList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Eip `json:"items"`
}
