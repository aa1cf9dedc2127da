package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// EipSpec is an address pool as OpenELB's v1alpha1 described it. The
// v1alpha2 fields it lacks (interface, priority, namespaces,
// namespaceSelector, vrrp) survive v1alpha1 writes in the conversion
// annotation.
type EipSpec struct {
	// Address maps to v1alpha2 spec.address unchanged: one IP, a CIDR or a
	// first-last range. The webhook checks it (IPv6 too).
	// +kubebuilder:validation:Required
	// +kubebuilder:validation:MinLength=1
	Address string `json:"address"`
	// Protocol maps to v1alpha2 spec.protocol unchanged. OpenELB's v1alpha1
	// knew bgp and layer2; vip is accepted so that a vip pool read through
	// v1alpha1 can be written back.
	// +kubebuilder:validation:Enum=bgp;layer2;vip
	// +optional
	Protocol string `json:"protocol,omitempty"`
	// Disable maps to v1alpha2 spec.disable unchanged.
	// +optional
	Disable bool `json:"disable,omitempty"`
	// UsingKnownIPs maps to v1alpha2 spec.usingKnownIPs unchanged.
	// +optional
	UsingKnownIPs bool `json:"usingKnownIPs,omitempty"`
}

// EipStatus is the part of v1alpha2's status that OpenELB's v1alpha1 had;
// used, firstIP, lastIP, ready, v4, vrids and conditions ride in the
// conversion annotation.
type EipStatus struct {
	// Occupied maps to v1alpha2 status.occupied unchanged.
	Occupied bool `json:"occupied,omitempty"`
	// Usage maps to v1alpha2 status.usage unchanged.
	Usage int `json:"usage,omitempty"`
	// PoolSize maps to v1alpha2 status.poolSize unchanged.
	PoolSize int `json:"poolSize,omitempty"`
}

// Eip is a pool of external addresses, in OpenELB's v1alpha1 form.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=eip,categories=networking
// +kubebuilder:printcolumn:name="CIDR",type=string,JSONPath=`.spec.address`
// +kubebuilder:printcolumn:name="USAGE",type=integer,JSONPath=`.status.usage`
// +kubebuilder:printcolumn:name="TOTAL",type=integer,JSONPath=`.status.poolSize`
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
