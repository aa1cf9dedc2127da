package speaker

import (
	"context"
	"fmt"
	"net/netip"
	"slices"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/internal/eippool"
	"github.com/herald-lb/herald/internal/optin"
)

// Snapshot is everything one node's modes decide from, read at one time.
type Snapshot struct {
	// Node is this node; nil when the Node object does not exist (yet).
	Node *corev1.Node
	// Pools are the valid Eips.
	Pools []eippool.Pool
	// Services are Herald's LoadBalancer Services that have addresses.
	Services []Service
	// BgpConf is the BgpConf named default; nil when there is none.
	BgpConf *v1alpha2.BgpConf
	// BgpPeers are all BgpPeers; modes pick the ones that select the node.
	BgpPeers []v1alpha2.BgpPeer
}

// gather reads a Snapshot from the reader (the speaker's cache).
func gather(ctx context.Context, r client.Reader, node, class string) (Snapshot, error) {
	var snap Snapshot

	var n corev1.Node
	switch err := r.Get(ctx, client.ObjectKey{Name: node}, &n); {
	case err == nil:
		snap.Node = &n
	case !apierrors.IsNotFound(err):
		return snap, fmt.Errorf("node %q: %w", node, err)
	}

	// Lists read the cache without copying: everything is converted into
	// the snapshot's own types and nothing writes to what is read.
	var eips v1alpha2.EipList
	if err := r.List(ctx, &eips, client.UnsafeDisableDeepCopy); err != nil {
		return snap, fmt.Errorf("list eips: %w", err)
	}
	for i := range eips.Items {
		if p, err := eippool.FromEip(&eips.Items[i]); err == nil {
			snap.Pools = append(snap.Pools, p)
		}
	}

	var services corev1.ServiceList
	if err := r.List(ctx, &services, client.UnsafeDisableDeepCopy); err != nil {
		return snap, fmt.Errorf("list services: %w", err)
	}
	for i := range services.Items {
		svc := &services.Items[i]
		if !optin.IsHerald(svc, class) || svc.DeletionTimestamp != nil {
			continue
		}
		s := Service{Key: svc.Namespace + "/" + svc.Name, LocalTraffic: svc.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal}
		for _, in := range svc.Status.LoadBalancer.Ingress {
			if a, err := netip.ParseAddr(in.IP); err == nil {
				s.Addrs = append(s.Addrs, a)
			}
		}
		if len(s.Addrs) == 0 {
			continue
		}
		if s.LocalTraffic {
			nodes, err := readyNodes(ctx, r, svc)
			if err != nil {
				return snap, err
			}
			s.ReadyNodes = nodes
		}
		snap.Services = append(snap.Services, s)
	}

	var conf v1alpha2.BgpConf
	switch err := r.Get(ctx, client.ObjectKey{Name: v1alpha2.BgpConfName}, &conf); {
	case err == nil:
		snap.BgpConf = &conf
	case !apierrors.IsNotFound(err):
		return snap, fmt.Errorf("bgpconf %q: %w", v1alpha2.BgpConfName, err)
	}
	var peers v1alpha2.BgpPeerList
	if err := r.List(ctx, &peers); err != nil {
		return snap, fmt.Errorf("list bgppeers: %w", err)
	}
	snap.BgpPeers = peers.Items
	return snap, nil
}

// readyNodes lists the nodes that hold a ready endpoint of the Service.
func readyNodes(ctx context.Context, r client.Reader, svc *corev1.Service) ([]string, error) {
	var list discoveryv1.EndpointSliceList
	if err := r.List(ctx, &list, client.InNamespace(svc.Namespace),
		client.MatchingLabels{discoveryv1.LabelServiceName: svc.Name}); err != nil {
		return nil, fmt.Errorf("service %s/%s: list endpointslices: %w", svc.Namespace, svc.Name, err)
	}
	var nodes []string
	for _, es := range list.Items {
		for _, ep := range es.Endpoints {
			ready := ep.Conditions.Ready == nil || *ep.Conditions.Ready
			if ready && ep.NodeName != nil && !slices.Contains(nodes, *ep.NodeName) {
				nodes = append(nodes, *ep.NodeName)
			}
		}
	}
	slices.Sort(nodes)
	return nodes, nil
}
