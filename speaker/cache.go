package speaker

import (
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/fields"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-lb/herald/api/v1alpha2"
)

// lastApplied is kubectl's copy of the whole applied object; it can be as
// large as the object itself and nothing in the speaker reads it.
const lastApplied = "kubectl.kubernetes.io/last-applied-configuration"

// CacheOptions keep the speaker's informer caches to what it reads. A
// speaker runs on every node, so each byte it caches per Service is paid
// once per node: the Node informer watches only this node (Node objects
// carry image lists of kilobytes), every object drops its managedFields
// and kubectl's last-applied copy, and Eips drop their status but the
// VRIDs (the controller's usage map grows with every address handed out;
// the speaker decides from the spec, the metadata and, in VIP mode, the
// VRIDs the controller assigned).
func CacheOptions(node string) cache.Options {
	return cache.Options{
		DefaultTransform: stripForCache,
		ByObject: map[client.Object]cache.ByObject{
			&corev1.Node{}: {
				Field:     fields.OneTermEqualSelector("metadata.name", node),
				Transform: stripNode,
			},
			&v1alpha2.Eip{}:              {Transform: stripEip},
			&corev1.Service{}:            {Transform: stripService},
			&discoveryv1.EndpointSlice{}: {Transform: stripEndpointSlice},
		},
	}
}

// stripForCache drops what no reader of the speaker's cache uses.
var stripForCache toolscache.TransformFunc = func(in any) (any, error) {
	obj, err := meta.Accessor(in)
	if err != nil {
		return in, nil // a tombstone or another non-object: keep as is
	}
	if obj.GetManagedFields() != nil {
		obj.SetManagedFields(nil)
	}
	if a := obj.GetAnnotations(); a != nil {
		if _, ok := a[lastApplied]; ok {
			delete(a, lastApplied)
			obj.SetAnnotations(a)
		}
	}
	return in, nil
}

// stripNode keeps the node's labels and addresses (BGP next hops,
// asPerRack) and drops the rest of its status.
var stripNode toolscache.TransformFunc = func(in any) (any, error) {
	if n, ok := in.(*corev1.Node); ok {
		n.Status = corev1.NodeStatus{Addresses: n.Status.Addresses, Conditions: n.Status.Conditions}
	}
	return stripForCache(in)
}

// stripService keeps what the snapshot reads of a Service: its type and
// class, annotations, traffic policy, cluster and external IPs and
// load-balancer status; ports, selector and the rest are dropped.
var stripService toolscache.TransformFunc = func(in any) (any, error) {
	if svc, ok := in.(*corev1.Service); ok {
		svc.OwnerReferences = nil
		svc.Spec.Ports = nil
		svc.Spec.Selector = nil
		svc.Spec.SessionAffinityConfig = nil
		svc.Status.Conditions = nil
	}
	return stripForCache(in)
}

// stripEndpointSlice keeps which nodes hold ready endpoints: addresses,
// ports and hints are dropped.
var stripEndpointSlice toolscache.TransformFunc = func(in any) (any, error) {
	if es, ok := in.(*discoveryv1.EndpointSlice); ok {
		es.Ports = nil
		for i := range es.Endpoints {
			ep := &es.Endpoints[i]
			ep.Addresses, ep.Hints, ep.TargetRef, ep.DeprecatedTopology, ep.Hostname, ep.Zone = nil, nil, nil, nil, nil, nil
		}
	}
	return stripForCache(in)
}

// stripEip drops the status but status.vrids: the speaker reads the spec,
// the metadata eippool.Accept decides by (name, creation and deletion
// time, the default-pool annotation), which stay, and the VRIDs VIP mode
// renders (one small entry per vip address in use; status.used, one entry
// per address of every mode, is what makes Eip statuses large).
var stripEip toolscache.TransformFunc = func(in any) (any, error) {
	if e, ok := in.(*v1alpha2.Eip); ok {
		e.Status = v1alpha2.EipStatus{VRIDs: e.Status.VRIDs}
	}
	return stripForCache(in)
}
