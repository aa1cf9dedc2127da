package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ASNumber is an autonomous system number, 2 or 4 bytes, declared as
// int64 in the schema so that 4-byte private ASNs (4200000000) pass, as
// in v1alpha2.
//
// +kubebuilder:validation:Format=int64
// +kubebuilder:validation:Minimum=0
// +kubebuilder:validation:Maximum=4294967295
type ASNumber uint32

// BgpConfSpec is OpenELB's v1alpha1 BgpConf: three fields, two of them
// spelt differently from v1alpha2. The v1alpha2 fields it lacks
// (asPerRack, listenAddresses, families, useMultiplePaths,
// gracefulRestart, policy, serviceClusterIPs, serviceExternalIPs) survive
// v1alpha1 writes in the conversion annotation.
type BgpConfSpec struct {
	// As maps to v1alpha2 spec.as unchanged.
	// +optional
	As ASNumber `json:"as,omitempty"`
	// RouterId maps to v1alpha2 spec.routerId (JSON name routerID here,
	// routerId there).
	// +optional
	RouterId string `json:"routerID,omitempty"`
	// Port maps to v1alpha2 spec.listenPort. As there, the webhook checks
	// the range (1-65535, 0 for none) and says what to use.
	// +optional
	Port int32 `json:"port,omitempty"`
}

// BgpConfStatus is empty in v1alpha1, as in OpenELB; v1alpha2's
// nodesConfStatus and conditions ride in the conversion annotation.
type BgpConfStatus struct{}

// BgpConf is the cluster's BGP settings, in OpenELB's v1alpha1 form.
// KubeSphere's console lists these to find out whether OpenELB (here:
// Herald) is installed.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,categories=networking
type BgpConf struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   BgpConfSpec   `json:"spec,omitempty"`
	Status BgpConfStatus `json:"status,omitzero"`
}

// BgpConfList is a list of BgpConfs.
//
// +kubebuilder:object:root=true
type BgpConfList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []BgpConf `json:"items"`
}
