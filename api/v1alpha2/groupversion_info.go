// Package v1alpha2 holds the network.kubesphere.io/v1alpha2 API that Herald
// serves: Eip (address pools), BgpConf (this cluster's BGP speaker settings)
// and BgpPeer (the routers the speakers peer with). Field names and JSON tags
// match OpenELB v0.6 so that existing manifests, scripts and the KubeSphere
// console keep working; Herald's additions are optional fields only.
//
// This package holds types and kubebuilder markers only: no clients, no
// webhooks, no package state beyond the scheme registration below.
//
// +kubebuilder:object:generate=true
// +groupName=network.kubesphere.io
package v1alpha2

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	// GroupVersion is the group and version of every type in this package.
	GroupVersion = schema.GroupVersion{Group: "network.kubesphere.io", Version: "v1alpha2"}

	// SchemeBuilder registers this package's types with a runtime.Scheme.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)

	// AddToScheme adds this package's types to a scheme; clients and
	// managers call it once at start-up.
	AddToScheme = SchemeBuilder.AddToScheme
)

func addKnownTypes(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion,
		&Eip{}, &EipList{},
		&BgpConf{}, &BgpConfList{},
		&BgpPeer{}, &BgpPeerList{},
	)
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
