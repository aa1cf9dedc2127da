package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// NeighborConfig identifies the router.
type NeighborConfig struct {
	// PeerAs maps to v1alpha2 spec.conf.peerAs.
	// +optional
	PeerAs ASNumber `json:"peerAs,omitempty"`
	// NeighborAddress maps to v1alpha2 spec.conf.neighborAddress.
	// +optional
	NeighborAddress string `json:"neighborAddress,omitempty"`
}

// AddPaths is the session's add-paths setting, for every address family.
type AddPaths struct {
	// SendMax maps to v1alpha2 spec.afiSafis[].addPaths.config.sendMax: it
	// reads that of the first family that sets one (at most 255), and a
	// v1alpha1 write sets it on every family, adding the unicast family of
	// the neighbour's address when the peer lists none.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=255
	// +optional
	SendMax uint8 `json:"sendMax,omitempty"`
}

// Transport are the session's TCP settings.
type Transport struct {
	// PassiveMode maps to v1alpha2 spec.transport.passiveMode unchanged.
	// +optional
	PassiveMode bool `json:"passiveMode,omitempty"`
	// RemotePort maps to v1alpha2 spec.transport.remotePort; a v1alpha2
	// value above 65535 (which the webhook refuses) reads as 0.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=65535
	// +optional
	RemotePort uint16 `json:"remotePort,omitempty"`
}

// BgpPeerSpec is OpenELB's v1alpha1 BgpPeer. The v1alpha2 fields it lacks
// (the rest of conf, ebgpMultihop, timers, the rest of transport,
// gracefulRestart, the rest of afiSafis, nodeSelector) survive v1alpha1
// writes in the conversion annotation.
type BgpPeerSpec struct {
	// Config maps to v1alpha2 spec.conf (renamed): peerAs and
	// neighborAddress.
	// +optional
	Config NeighborConfig `json:"config,omitzero"`
	// AddPaths maps to v1alpha2 spec.afiSafis[].addPaths (moved under the
	// per-family list there); see AddPaths.SendMax.
	// +optional
	AddPaths AddPaths `json:"addPaths,omitzero"`
	// Transport maps to v1alpha2 spec.transport: passiveMode and
	// remotePort.
	// +optional
	Transport Transport `json:"transport,omitzero"`
	// UsingPortForward has no v1alpha2 field and no effect in Herald
	// (OpenELB used it for a port-forwarding setup of its own). It is kept
	// in an annotation of the stored object so that it reads back as
	// written.
	// +optional
	UsingPortForward bool `json:"usingPortForward,omitempty"`
}

// BgpPeerStatus is empty in v1alpha1, as in OpenELB; v1alpha2's
// nodesPeerStatus and conditions ride in the conversion annotation.
type BgpPeerStatus struct{}

// BgpPeer is a router the speakers peer with, in OpenELB's v1alpha1 form.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,categories=networking
type BgpPeer struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   BgpPeerSpec   `json:"spec,omitempty"`
	Status BgpPeerStatus `json:"status,omitzero"`
}

// BgpPeerList is a list of BgpPeers.
//
// +kubebuilder:object:root=true
type BgpPeerList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []BgpPeer `json:"items"`
}
