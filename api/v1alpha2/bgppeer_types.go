package v1alpha2

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// PeerConf identifies the neighbour and the session's basic parameters.
type PeerConf struct {
	// AuthPassword is the TCP MD5 password in plain text. Prefer
	// AuthPasswordSecretRef; the webhook warns about this field.
	// +optional
	AuthPassword string `json:"authPassword,omitempty"`
	// AuthPasswordSecretRef reads the TCP MD5 password from a Secret.
	// +optional
	AuthPasswordSecretRef *SecretKeyRef `json:"authPasswordSecretRef,omitempty"`
	// +optional
	Description string `json:"description,omitempty"`
	// LocalAs overrides BgpConf's AS for this session.
	// +optional
	LocalAs ASNumber `json:"localAs,omitempty"`
	// NeighborAddress is the router's IPv4 or IPv6 address.
	NeighborAddress string `json:"neighborAddress,omitempty"`
	// PeerAs is the router's AS number.
	PeerAs            ASNumber `json:"peerAs,omitempty"`
	PeerGroup         string   `json:"peerGroup,omitempty"`
	PeerType          uint32   `json:"peerType,omitempty"`
	RemovePrivateAs   string   `json:"removePrivateAs,omitempty"`
	RouteFlapDamping  bool     `json:"routeFlapDamping,omitempty"`
	SendCommunity     uint32   `json:"sendCommunity,omitempty"`
	NeighborInterface string   `json:"neighborInterface,omitempty"`
	Vrf               string   `json:"vrf,omitempty"`
	AllowOwnAs        uint32   `json:"allowOwnAs,omitempty"`
	ReplacePeerAs     bool     `json:"replacePeerAs,omitempty"`
	AdminDown         bool     `json:"adminDown,omitempty"`
}

// SecretKeyRef points at one key of one Secret.
type SecretKeyRef struct {
	// Namespace of the Secret: Herald's own (herald-system in the release
	// manifest), the only one whose Secrets the speakers may read; empty
	// means Herald's namespace. The webhook refuses any other.
	// +optional
	Namespace string `json:"namespace,omitempty"`
	// Name of the Secret.
	Name string `json:"name"`
	// Key in the Secret's data; "password" when empty.
	// +optional
	Key string `json:"key,omitempty"`
}

// EbgpMultihop allows eBGP sessions to routers more than one hop away.
type EbgpMultihop struct {
	Enabled     bool   `json:"enabled,omitempty"`
	MultihopTtl uint32 `json:"multihopTtl,omitempty"`
}

// Timers wraps the session timers, in seconds.
type Timers struct {
	Config *TimersConfig `json:"config,omitempty"`
}

// TimersConfig are the session timers in seconds. OpenELB declared them as
// strings ("90"), so existing manifests carry strings: both strings and
// integers are accepted, and the webhook checks the number inside.
type TimersConfig struct {
	// +optional
	ConnectRetry *intstr.IntOrString `json:"connectRetry,omitempty"`
	// +optional
	HoldTime *intstr.IntOrString `json:"holdTime,omitempty"`
	// +optional
	KeepaliveInterval *intstr.IntOrString `json:"keepaliveInterval,omitempty"`
	// +optional
	MinimumAdvertisementInterval *intstr.IntOrString `json:"minimumAdvertisementInterval,omitempty"`
}

// Transport are the TCP settings of the session.
type Transport struct {
	MtuDiscovery  bool   `json:"mtuDiscovery,omitempty"`
	PassiveMode   bool   `json:"passiveMode,omitempty"`
	RemoteAddress string `json:"remoteAddress,omitempty"`
	RemotePort    uint32 `json:"remotePort,omitempty"`
	TcpMss        uint32 `json:"tcpMss,omitempty"`
}

// MpGracefulRestartConfig enables graceful restart for one family.
type MpGracefulRestartConfig struct {
	Enabled bool `json:"enabled,omitempty"`
}

// MpGracefulRestart wraps MpGracefulRestartConfig.
type MpGracefulRestart struct {
	Config *MpGracefulRestartConfig `json:"config,omitempty"`
}

// Family is an address family in GoBGP's names (AFI_IP, SAFI_UNICAST, ...).
type Family struct {
	Afi  string `json:"afi,omitempty"`
	Safi string `json:"safi,omitempty"`
}

// AfiSafiConfig enables one address family on the session.
type AfiSafiConfig struct {
	Family  *Family `json:"family,omitempty"`
	Enabled bool    `json:"enabled,omitempty"`
}

// AddPathsConfig configures RFC 7911 add-paths for one family.
type AddPathsConfig struct {
	Receive bool   `json:"receive,omitempty"`
	SendMax uint32 `json:"sendMax,omitempty"`
}

// AddPaths wraps AddPathsConfig.
type AddPaths struct {
	Config *AddPathsConfig `json:"config,omitempty"`
}

// AfiSafi is the per-family configuration of a session.
type AfiSafi struct {
	MpGracefulRestart *MpGracefulRestart `json:"mpGracefulRestart,omitempty"`
	Config            *AfiSafiConfig     `json:"config,omitempty"`
	AddPaths          *AddPaths          `json:"addPaths,omitempty"`
}

// BgpPeerSpec describes one router the speakers peer with.
type BgpPeerSpec struct {
	Conf            *PeerConf        `json:"conf,omitempty"`
	EbgpMultihop    *EbgpMultihop    `json:"ebgpMultihop,omitempty"`
	Timers          *Timers          `json:"timers,omitempty"`
	Transport       *Transport       `json:"transport,omitempty"`
	GracefulRestart *GracefulRestart `json:"gracefulRestart,omitempty"`
	AfiSafis        []AfiSafi        `json:"afiSafis,omitempty"`
	// NodeSelector picks the nodes that peer with this router; empty means
	// every node.
	// +optional
	NodeSelector *metav1.LabelSelector `json:"nodeSelector,omitempty"`
	// NodeSelectors are more selectors, OR-ed with each other and with
	// NodeSelector: a node peers when any of them matches (MetalLB's
	// node-selectors). Herald's addition; both empty means every node.
	// +kubebuilder:validation:MaxItems=16
	// +listType=atomic
	// +optional
	NodeSelectors []metav1.LabelSelector `json:"nodeSelectors,omitempty"`
	// SourceAddress is the rule by which each node picks the local address
	// of its session, on nodes with several: one BgpPeer serves many
	// nodes, so it names an interface or a CIDR, not an address. The
	// address picked is also the next hop of the node's routes. Unset
	// means the kernel's choice. Herald's addition.
	// +optional
	SourceAddress *PeerSourceAddress `json:"sourceAddress,omitempty"`
	// Bfd runs Bidirectional Forwarding Detection (RFC 5880, single hop)
	// beside the session, so that the router drops a node that died
	// silently within about transmit interval × multiplier instead of the
	// hold time. The router must run BFD towards the nodes too. Herald's
	// addition.
	// +optional
	Bfd *PeerBfd `json:"bfd,omitempty"`
}

// PeerSourceAddress is how a node picks its local address for a session.
// Exactly one field is set.
type PeerSourceAddress struct {
	// Interface names the node interface whose first global address of
	// the neighbour's family is used.
	// +kubebuilder:validation:MaxLength=15
	// +optional
	Interface string `json:"interface,omitempty"`
	// CIDR is a prefix ("10.99.0.0/24"); the node uses its own address
	// inside it.
	// +kubebuilder:validation:MaxLength=64
	// +optional
	CIDR string `json:"cidr,omitempty"`
}

// PeerBfd are the BFD settings of a session. Intervals are durations
// ("300ms") of whole milliseconds, from 10ms to 60s.
type PeerBfd struct {
	// Enabled turns BFD on for this peer.
	Enabled bool `json:"enabled"`
	// TransmitInterval is the least interval between the node's BFD
	// packets that it wants (desired min TX); default 300ms.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$`
	// +optional
	TransmitInterval *metav1.Duration `json:"transmitInterval,omitempty"`
	// ReceiveInterval is the least interval between the router's packets
	// that the node accepts (required min RX); default 300ms.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$`
	// +optional
	ReceiveInterval *metav1.Duration `json:"receiveInterval,omitempty"`
	// DetectMultiplier is how many intervals without a packet declare the
	// session down; default 3.
	// +kubebuilder:validation:Minimum=2
	// +kubebuilder:validation:Maximum=255
	// +optional
	DetectMultiplier *int32 `json:"detectMultiplier,omitempty"`
}

// Message counts BGP messages by type.
type Message struct {
	Notification   string `json:"notification,omitempty"`
	Update         string `json:"update,omitempty"`
	Open           string `json:"open,omitempty"`
	Keepalive      string `json:"keepalive,omitempty"`
	Refresh        string `json:"refresh,omitempty"`
	Discarded      string `json:"discarded,omitempty"`
	Total          string `json:"total,omitempty"`
	WithdrawUpdate string `json:"withdrawUpdate,omitempty"`
	WithdrawPrefix string `json:"withdrawPrefix,omitempty"`
}

// Messages counts messages in both directions: a snapshot taken when the
// node last wrote its entry, at a change of the session's state. The
// speaker does not refresh it as messages flow (every node would re-patch
// every BgpPeer on every keepalive); the live counts are the speaker's
// herald_speaker_bgp_messages_sent_total and _received_total metrics.
type Messages struct {
	Received *Message `json:"received,omitempty"`
	Sent     *Message `json:"sent,omitempty"`
}

// Queues are the session's input and output queue lengths. Kept from
// OpenELB's API; Herald's speaker does not write them.
type Queues struct {
	Input  uint32 `json:"input,omitempty"`
	Output uint32 `json:"output,omitempty"`
}

// PeerState is one node's view of the session.
type PeerState struct {
	Description string   `json:"description,omitempty"`
	LocalAs     ASNumber `json:"localAs,omitempty"`
	// Messages are the message counters as they were at the session's
	// last state change, written with it and not refreshed in between;
	// the live counts are the speaker's metrics.
	// +optional
	Messages        *Messages `json:"messages,omitempty"`
	NeighborAddress string    `json:"neighborAddress,omitempty"`
	PeerAs          ASNumber  `json:"peerAs,omitempty"`
	PeerGroup       string    `json:"peerGroup,omitempty"`
	PeerType        uint32    `json:"peerType,omitempty"`
	// Queues are not written by Herald (OpenELB's field).
	// +optional
	Queues           *Queues `json:"queues,omitempty"`
	RemovePrivateAs  uint32  `json:"removePrivateAs,omitempty"`
	RouteFlapDamping bool    `json:"routeFlapDamping,omitempty"`
	SendCommunity    uint32  `json:"sendCommunity,omitempty"`
	// SessionState is the session's BGP state (IDLE ... ESTABLISHED), or
	// NOT_RUNNING when this node does not start it. While the session is
	// not established the node does not follow GoBGP's own moves among
	// IDLE, CONNECT, ACTIVE, OPENSENT and OPENCONFIRM: it writes the state
	// it found when the session went down, and again only with another
	// change of the entry (lastError, adminState, bfdState, ...).
	// +optional
	SessionState string `json:"sessionState,omitempty"`
	AdminState   string `json:"adminState,omitempty"`
	// OutQ is not written by Herald (OpenELB's field).
	// +optional
	OutQ uint32 `json:"outQ,omitempty"`
	// Flops counts the established sessions that went down soon after
	// coming up; it changes only when a session goes down, and is written
	// then.
	// +optional
	Flops    uint32 `json:"flops,omitempty"`
	RouterId string `json:"routerId,omitempty"`
	// BfdState is the node's BFD session with the peer (AdminDown, Down,
	// Init, Up) when the peer has BFD enabled.
	// +optional
	BfdState string `json:"bfdState,omitempty"`
	// LastError says why the session is not established, in words.
	// +optional
	LastError string `json:"lastError,omitempty"`
}

// TimersState are the session's timers as negotiated, in seconds, and the
// times of its last state changes. Each node writes its entry only when
// the session's state changes, never periodically.
type TimersState struct {
	ConnectRetry                 string `json:"connectRetry,omitempty"`
	HoldTime                     string `json:"holdTime,omitempty"`
	KeepaliveInterval            string `json:"keepaliveInterval,omitempty"`
	MinimumAdvertisementInterval string `json:"minimumAdvertisementInterval,omitempty"`
	NegotiatedHoldTime           string `json:"negotiatedHoldTime,omitempty"`
	// Uptime is when the session was last established (RFC 3339), not a
	// running duration: written once, at the change to Established.
	// +optional
	Uptime string `json:"uptime,omitempty"`
	// Downtime is when the session last changed to a state other than
	// Established (RFC 3339), written at that change.
	// +optional
	Downtime string `json:"downtime,omitempty"`
}

// NodePeerStatus is one node's session with the peer. The node writes it
// when the session's state changes (session or admin state, last error,
// BFD state, negotiated timers, router ID, AS numbers, description), not
// periodically; the live message counts, flaps and time of establishment
// are the speaker's herald_speaker_bgp_* metrics.
type NodePeerStatus struct {
	PeerState   PeerState   `json:"peerState,omitempty"`
	TimersState TimersState `json:"timersState,omitempty"`
}

// BgpPeerStatus reports every node's session with the peer.
type BgpPeerStatus struct {
	// NodesPeerStatus maps a node name to its session's state.
	// +optional
	NodesPeerStatus map[string]NodePeerStatus `json:"nodesPeerStatus,omitempty"`
	// Conditions explain whether the peer configuration is in effect.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// BgpPeer is a router the speakers establish BGP sessions with.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:storageversion
// +kubebuilder:resource:scope=Cluster,categories=networking
// +kubebuilder:printcolumn:name="NEIGHBOR",type=string,JSONPath=`.spec.conf.neighborAddress`
// +kubebuilder:printcolumn:name="PEER-AS",type=integer,JSONPath=`.spec.conf.peerAs`
// +kubebuilder:printcolumn:name="AGE",type=date,JSONPath=`.metadata.creationTimestamp`
type BgpPeer struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   BgpPeerSpec   `json:"spec,omitempty"`
	Status BgpPeerStatus `json:"status,omitempty"`
}

// BgpPeerList is a list of BgpPeers.
//
// +kubebuilder:object:root=true
type BgpPeerList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []BgpPeer `json:"items"`
}
