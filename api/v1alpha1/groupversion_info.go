// Package v1alpha1 holds network.kubesphere.io/v1alpha1, the first version
// of the Eip, BgpConf and BgpPeer API that OpenELB served. Herald serves it
// for old manifests and scripts and for KubeSphere's console, which lists
// v1alpha1 BgpConfs to decide whether OpenELB is installed. Field names,
// JSON tags and shapes are OpenELB's; each field's doc comment says which
// v1alpha2 field it maps to.
//
// v1alpha2 is the storage version and the only one Herald's code reads.
// Unlike OpenELB, which served both versions with conversion None (so a
// v1alpha1 write silently dropped every renamed field), the API server
// converts between them through herald-controller's conversion webhook:
// renamed fields are carried over, and v1alpha2 fields with no v1alpha1
// home ride along in an annotation (see webhook/convert), so a read-modify-
// write through v1alpha1 loses nothing.
//
// Deliberate differences from OpenELB's v1alpha1 schema: nested objects are
// optional and omitted when empty (OpenELB's Go types always wrote
// `config: {}`); address, router ID and port checks are left to the
// admission webhook, which accepts IPv6 and explains its refusals (OpenELB's
// IPv4-only patterns would refuse a v1alpha1 update of an IPv6 pool); Eip
// accepts protocol vip; and status is a subresource, as in v1alpha2, so
// that a v1alpha1 client's update of the spec cannot overwrite the status
// the controller and the speakers write.
//
// This package holds types and kubebuilder markers only; the conversion
// code lives beside the webhook (webhook/convert).
//
// +kubebuilder:object:generate=true
// +groupName=network.kubesphere.io
package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	// GroupVersion is the group and version of every type in this package.
	GroupVersion = schema.GroupVersion{Group: "network.kubesphere.io", Version: "v1alpha1"}

	// SchemeBuilder registers this package's types with a runtime.Scheme.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)

	// AddToScheme adds this package's types to a scheme. herald-controller
	// needs them to serve conversions; the speakers do not.
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
