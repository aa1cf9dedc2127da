package v1alpha2

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// BgpConfName is the only BgpConf the speakers use. OpenELB silently ignored
// others; Herald's webhook refuses them.
const BgpConfName = "default"

// LabelRack is the node label that asPerRack keys on.
const LabelRack = "openelb.kubesphere.io/rack"

// The schema of an AS number says int64: uint32's default, int32, would
// make the API server refuse private 4-byte ASNs such as 4200000000. The
// bounds refuse negative numbers, which would not even decode, with a clear
// message.

// ASNumber is an autonomous system number, 2 or 4 bytes (0-4294967295).
//
// +kubebuilder:validation:Format=int64
// +kubebuilder:validation:Minimum=0
// +kubebuilder:validation:Maximum=4294967295
type ASNumber uint32

// BgpConfSpec holds the cluster-wide settings of every speaker's BGP router.
type BgpConfSpec struct {
	// As is the local autonomous system number of every speaker.
	As ASNumber `json:"as,omitempty"`
	// AsPerRack overrides As for nodes whose openelb.kubesphere.io/rack
	// label has this value; those nodes use their own address as router ID.
	// +optional
	AsPerRack map[string]ASNumber `json:"asPerRack,omitempty"`
	// RouterId, when set, is used by every node. Leave it empty so each node
	// uses its own address.
	// +optional
	RouterId string `json:"routerId,omitempty"`
	// ListenPort is the TCP port the speakers accept BGP sessions on; unset
	// means no listener unless a peer is passive.
	// +optional
	ListenPort int32 `json:"listenPort,omitempty"`
	// ListenAddresses restricts the listener to these addresses.
	// +optional
	ListenAddresses []string `json:"listenAddresses,omitempty"`
	// Families are the GoBGP route families (OpenELB compatibility).
	// +optional
	Families []uint32 `json:"families,omitempty"`
	// UseMultiplePaths enables multipath in the speaker's RIB.
	// +optional
	UseMultiplePaths bool `json:"useMultiplePaths,omitempty"`
	// GracefulRestart configures BGP graceful restart for every session.
	// +optional
	GracefulRestart *GracefulRestart `json:"gracefulRestart,omitempty"`
	// Policy names a routing policy (OpenELB compatibility).
	// +optional
	Policy string `json:"policy,omitempty"`

	// The two fields below are additions to OpenELB's BgpConf, with the
	// names and meaning of Calico's BGPConfiguration, so that a cluster can
	// advertise its Service ranges to the ToR with ECMP without any
	// LoadBalancer Service, and Calico users find what they know.

	// ServiceClusterIPs are CIDRs (usually the cluster's Service cluster-IP
	// range, kube-apiserver's --service-cluster-ip-range) that every node
	// running BGP advertises, so routers spread traffic to cluster IPs over
	// the nodes with ECMP. The cluster IP of a Service with
	// externalTrafficPolicy Local that lies in one of them is also
	// advertised as a /32 or /128, only from the nodes with a ready
	// endpoint of the Service, as Calico does.
	// +kubebuilder:validation:MaxItems=32
	// +listType=atomic
	// +optional
	ServiceClusterIPs []ServiceIPBlock `json:"serviceClusterIPs,omitempty"`
	// ServiceExternalIPs are CIDRs that every node running BGP advertises,
	// meant to cover the spec.externalIPs of Services. An external IP of a
	// Service with externalTrafficPolicy Local that lies in one of them is
	// also advertised as a /32 or /128, only from the nodes with a ready
	// endpoint of the Service, as Calico does; external IPs outside them are
	// not advertised at all.
	// +kubebuilder:validation:MaxItems=32
	// +listType=atomic
	// +optional
	ServiceExternalIPs []ServiceIPBlock `json:"serviceExternalIPs,omitempty"`

	// Communities are named BGP communities that Eips' bgpAdvertisements
	// may use instead of the numbers (MetalLB's bgp-communities and its
	// Community resource). Herald's addition.
	// +kubebuilder:validation:MaxItems=256
	// +listType=map
	// +listMapKey=name
	// +optional
	Communities []CommunityAlias `json:"communities,omitempty"`
}

// CommunityAlias names one BGP community.
type CommunityAlias struct {
	// Name is what advertisements write ("no-advertise-upstream"); it may
	// not be one of the well-known names.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +required
	Name string `json:"name"`
	// Value is a standard ("65535:65282") or large ("large:1:2:3")
	// community.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	// +required
	Value string `json:"value"`
}

// ServiceIPBlock is one CIDR of BgpConf's serviceClusterIPs or
// serviceExternalIPs; an object rather than a string, as in Calico, so
// that per-block settings can be added later without breaking manifests.
type ServiceIPBlock struct {
	// CIDR is an IPv4 or IPv6 prefix in canonical form, host bits zero:
	// 10.96.0.0/12, fd00:96::/108.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	// +required
	CIDR string `json:"cidr"`
}

// GracefulRestart are the RFC 4724 (and long-lived, RFC 9494) settings.
type GracefulRestart struct {
	Enabled             bool   `json:"enabled,omitempty"`
	RestartTime         uint32 `json:"restartTime,omitempty"`
	HelperOnly          bool   `json:"helperOnly,omitempty"`
	DeferralTime        uint32 `json:"deferralTime,omitempty"`
	NotificationEnabled bool   `json:"notificationEnabled,omitempty"`
	LonglivedEnabled    bool   `json:"longlivedEnabled,omitempty"`
	StaleRoutesTime     uint32 `json:"staleRoutesTime,omitempty"`
	PeerRestartTime     uint32 `json:"peerRestartTime,omitempty"`
	PeerRestarting      bool   `json:"peerRestarting,omitempty"`
	LocalRestarting     bool   `json:"localRestarting,omitempty"`
	Mode                string `json:"mode,omitempty"`
}

// NodeConfStatus is the router identity one node's speaker uses.
type NodeConfStatus struct {
	RouterId string   `json:"routerId,omitempty"`
	As       ASNumber `json:"as,omitempty"`
}

// BgpConfStatus reports, per node, the identity its speaker runs with.
type BgpConfStatus struct {
	// NodesConfStatus maps a node name to its speaker's router ID and AS.
	// +optional
	NodesConfStatus map[string]NodeConfStatus `json:"nodesConfStatus,omitempty"`
	// Conditions explain whether the configuration is in effect.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// BgpConf is the BGP configuration shared by every speaker; only the one
// named "default" is used.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:storageversion
// +kubebuilder:resource:scope=Cluster,categories=networking
// +kubebuilder:printcolumn:name="AS",type=integer,JSONPath=`.spec.as`
// +kubebuilder:printcolumn:name="LISTEN-PORT",type=integer,JSONPath=`.spec.listenPort`
// +kubebuilder:printcolumn:name="AGE",type=date,JSONPath=`.metadata.creationTimestamp`
type BgpConf struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   BgpConfSpec   `json:"spec,omitempty"`
	Status BgpConfStatus `json:"status,omitempty"`
}

// BgpConfList is a list of BgpConfs.
//
// +kubebuilder:object:root=true
type BgpConfList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []BgpConf `json:"items"`
}
