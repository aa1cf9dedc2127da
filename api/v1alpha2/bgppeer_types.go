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

// Messages counts messages in both directions.
type Messages struct {
	Received *Message `json:"received,omitempty"`
	Sent     *Message `json:"sent,omitempty"`
}

// Queues are the session's input and output queue lengths.
type Queues struct {
	Input  uint32 `json:"input,omitempty"`
	Output uint32 `json:"output,omitempty"`
}

// PeerState is one node's view of the session.
type PeerState struct {
	Description      string    `json:"description,omitempty"`
	LocalAs          ASNumber  `json:"localAs,omitempty"`
	Messages         *Messages `json:"messages,omitempty"`
	NeighborAddress  string    `json:"neighborAddress,omitempty"`
	PeerAs           ASNumber  `json:"peerAs,omitempty"`
	PeerGroup        string    `json:"peerGroup,omitempty"`
	PeerType         uint32    `json:"peerType,omitempty"`
	Queues           *Queues   `json:"queues,omitempty"`
	RemovePrivateAs  uint32    `json:"removePrivateAs,omitempty"`
	RouteFlapDamping bool      `json:"routeFlapDamping,omitempty"`
	SendCommunity    uint32    `json:"sendCommunity,omitempty"`
	SessionState     string    `json:"sessionState,omitempty"`
	AdminState       string    `json:"adminState,omitempty"`
	OutQ             uint32    `json:"outQ,omitempty"`
	Flops            uint32    `json:"flops,omitempty"`
	RouterId         string    `json:"routerId,omitempty"`
	// LastError says why the session is not established, in words.
	// +optional
	LastError string `json:"lastError,omitempty"`
}

// TimersState are the session's timers as negotiated, in seconds.
type TimersState struct {
	ConnectRetry                 string `json:"connectRetry,omitempty"`
	HoldTime                     string `json:"holdTime,omitempty"`
	KeepaliveInterval            string `json:"keepaliveInterval,omitempty"`
	MinimumAdvertisementInterval string `json:"minimumAdvertisementInterval,omitempty"`
	NegotiatedHoldTime           string `json:"negotiatedHoldTime,omitempty"`
	Uptime                       string `json:"uptime,omitempty"`
	Downtime                     string `json:"downtime,omitempty"`
}

// NodePeerStatus is one node's session with the peer.
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
