package speaker

import (
	"context"
	"fmt"
	"net/netip"
	"slices"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/validation/field"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/internal/bgpconfig"
	"github.com/herald-lb/herald/internal/eippool"
	"github.com/herald-lb/herald/internal/optin"
	"github.com/herald-lb/herald/keepalived"
)

// Snapshot is everything one node's modes decide from, read at one time.
type Snapshot struct {
	// Node is this node; nil when the Node object does not exist (yet).
	Node *corev1.Node
	// Pools are the Eips that count, as eippool.Accept decides for the
	// controller too: valid, and no two overlapping, so each address is in
	// at most one.
	Pools []eippool.Pool
	// Services are Herald's LoadBalancer Services that have addresses,
	// and, when BgpConf lists Service ranges, the externalTrafficPolicy
	// Local Services of any type whose IPs those ranges may cover.
	Services []Service
	// BgpConf is the BgpConf named default; nil when there is none.
	BgpConf *v1alpha2.BgpConf
	// ServiceCIDRs are BgpConf's valid Service ranges; empty without one.
	ServiceCIDRs bgpconfig.ServiceCIDRs
	// BgpPeers are all BgpPeers; modes pick the ones that select the node.
	BgpPeers []v1alpha2.BgpPeer
	// BgpAdvertisements are the Eips' spec.bgpAdvertisements by
	// Eip name (routes name only accepted ones), as read from the cache:
	// read-only.
	BgpAdvertisements map[string][]v1alpha2.BgpAdvertisement
	// VRIDs are the VRRP virtual router IDs the controller assigned to the
	// vip addresses in use, read from the accepted vip Eips' status.vrids.
	// An address without one (not assigned yet, or the range is exhausted)
	// is not served; speakers never allocate, so that all nodes agree.
	VRIDs map[netip.Addr]keepalived.VRID
}

// ServiceLister returns the cached Services themselves, read-only. The
// speaker reads every Service on every reconcile; a List through the
// cache copies each one into a fresh slice first (about a megabyte per
// reconcile at 1,000 Services), while an informer's store hands out the
// pointers it holds. See InformerServices.
type ServiceLister func() []*corev1.Service

// InformerServices is a ServiceLister over a cache informer for Services
// (controller-runtime's informers are client-go SharedIndexInformers).
func InformerServices(inf toolscache.SharedIndexInformer) ServiceLister {
	return func() []*corev1.Service {
		objs := inf.GetStore().List()
		out := make([]*corev1.Service, 0, len(objs))
		for _, o := range objs {
			if svc, ok := o.(*corev1.Service); ok {
				out = append(out, svc)
			}
		}
		return out
	}
}

// gather reads a Snapshot from the reader (the speaker's cache), and the
// Services from services when it is set.
func gather(ctx context.Context, r client.Reader, services ServiceLister, node, class string) (Snapshot, error) {
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
	// The controller allocates from the Eips eippool.Accept takes; an
	// address must be announced under the same Eip, so the speaker takes
	// the same ones (the reasons for the others are the controller's to
	// report, on the Eips' status).
	snap.Pools, _ = eippool.Accept(eips.Items)
	snap.VRIDs = vridsOf(snap.Pools, eips.Items)
	snap.BgpAdvertisements = bgpAdvertisements(eips.Items)

	// The BgpConf comes first: its Service ranges decide which Services
	// matter.
	var conf v1alpha2.BgpConf
	switch err := r.Get(ctx, client.ObjectKey{Name: v1alpha2.BgpConfName}, &conf); {
	case err == nil:
		snap.BgpConf = &conf
		// An invalid entry fails the whole BgpConf in the BGP mode, which
		// reports it; the valid ones are enough here.
		snap.ServiceCIDRs, _ = bgpconfig.ParseServiceCIDRs(field.NewPath("spec"), &conf.Spec)
	case !apierrors.IsNotFound(err):
		return snap, fmt.Errorf("bgpconf %q: %w", v1alpha2.BgpConfName, err)
	}

	var svcs []*corev1.Service
	if services != nil {
		svcs = services()
	} else {
		var list corev1.ServiceList
		if err := r.List(ctx, &list, client.UnsafeDisableDeepCopy); err != nil {
			return snap, fmt.Errorf("list services: %w", err)
		}
		for i := range list.Items {
			svcs = append(svcs, &list.Items[i])
		}
	}
	for _, svc := range svcs {
		s, ok := toService(svc, class, snap.ServiceCIDRs)
		if !ok {
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

	var peers v1alpha2.BgpPeerList
	if err := r.List(ctx, &peers); err != nil {
		return snap, fmt.Errorf("list bgppeers: %w", err)
	}
	snap.BgpPeers = peers.Items
	return snap, nil
}

// vridsOf collects the VRIDs in the status of the Eips that count as vip
// pools. Entries that do not parse, are no VRID (1-255) or lie outside
// their Eip's range are ignored without a word: the controller owns them
// and reports its own problems on the Eip; a log line here would repeat on
// every reconcile of every node.
func vridsOf(pools []eippool.Pool, eips []v1alpha2.Eip) map[netip.Addr]keepalived.VRID {
	vip := map[string]eippool.Pool{}
	for _, p := range pools {
		if p.Protocol == v1alpha2.ProtocolVIP {
			vip[p.Name] = p
		}
	}
	out := map[netip.Addr]keepalived.VRID{}
	for i := range eips {
		p, ok := vip[eips[i].Name]
		if !ok {
			continue
		}
		for s, v := range eips[i].Status.VRIDs {
			a, err := netip.ParseAddr(s)
			if err != nil || v < 1 || v > 255 || !p.Range.Contains(a) {
				continue
			}
			out[a.Unmap()] = keepalived.VRID(v)
		}
	}
	return out
}

// toService keeps what Compute needs of svc, and says whether it needs
// anything: the load-balancer addresses of a Herald Service, and the
// cluster and external IPs of an externalTrafficPolicy Local Service of any
// type (cluster IPs are not Herald's to allocate, so no opt-in is asked)
// when BgpConf lists ranges of that kind. Other Services cost nothing more
// than the cache already holds.
func toService(svc *corev1.Service, class string, ranges bgpconfig.ServiceCIDRs) (Service, bool) {
	if svc.DeletionTimestamp != nil {
		return Service{}, false
	}
	s := Service{Key: svc.Namespace + "/" + svc.Name, LocalTraffic: svc.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal}
	if optin.IsHerald(svc, optin.ParsePolicy(class)) {
		for _, in := range svc.Status.LoadBalancer.Ingress {
			s.Addrs = appendAddr(s.Addrs, in.IP)
		}
		s.Layer2Node = svc.Annotations[v1alpha2.AnnotationLayer2Node]
		s.VIPHolder = svc.Annotations[v1alpha2.AnnotationVIPHolder]
	}
	if s.LocalTraffic && len(ranges.ClusterIPs) > 0 {
		ips := svc.Spec.ClusterIPs
		if len(ips) == 0 {
			ips = []string{svc.Spec.ClusterIP}
		}
		for _, ip := range ips {
			s.ClusterIPs = appendAddr(s.ClusterIPs, ip) // "None" (headless) is no address
		}
	}
	if s.LocalTraffic && len(ranges.ExternalIPs) > 0 {
		for _, ip := range svc.Spec.ExternalIPs {
			s.ExternalIPs = appendAddr(s.ExternalIPs, ip)
		}
	}
	return s, len(s.Addrs)+len(s.ClusterIPs)+len(s.ExternalIPs) > 0
}

// appendAddr appends ip when it parses as an address.
func appendAddr(out []netip.Addr, ip string) []netip.Addr {
	if a, err := netip.ParseAddr(ip); err == nil {
		return append(out, a)
	}
	return out
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

// bgpAdvertisements are the Eips' spec.bgpAdvertisements by name, for the
// Eips that have some.
func bgpAdvertisements(eips []v1alpha2.Eip) map[string][]v1alpha2.BgpAdvertisement {
	out := map[string][]v1alpha2.BgpAdvertisement{}
	for i := range eips {
		if len(eips[i].Spec.BgpAdvertisements) > 0 {
			out[eips[i].Name] = eips[i].Spec.BgpAdvertisements
		}
	}
	return out
}
