package kcluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-lb/herald/test/e2e/rig"
)

// CutNode takes node n off the network as a dead switch port would, and
// cuts its loopback path to the API server as well (the kubelet's, which
// would cross that port on a real node): its kubelet stops renewing the
// node's lease, its speaker and kube-proxy lose the API server, and no
// packet reaches or leaves its LAN interface.
func (c *Cluster) CutNode(n *Node) error {
	return errors.Join(c.CarrierDown(n.Name), c.CutForward(c.Env.APIServerURL().Host, n.NS))
}

// RestoreNode undoes CutNode and waits until the node is Ready again and
// every DaemonSet and the web Deployment run everywhere again.
func (c *Cluster) RestoreNode(ctx context.Context, n *Node) error {
	if err := c.CarrierUp(n.Name); err != nil {
		return err
	}
	if err := c.ForwardHost(ctx, c.Env.APIServerURL().Host, n.NS); err != nil {
		return err
	}
	err := rig.Eventually(ctx, 2*time.Minute, 200*time.Millisecond, func(ctx context.Context) error {
		var node corev1.Node
		if err := c.Client.Get(ctx, client.ObjectKey{Name: n.Name}, &node); err != nil {
			return err
		}
		return Ready(&node)
	})
	if err != nil {
		return fmt.Errorf("node %s back: %w", n.Name, err)
	}
	return c.WaitHerald(ctx, 2*time.Minute)
}

// readyEndpointNodes returns the nodes with a ready endpoint of Service
// ns/name, from the EndpointSlices Kubernetes wrote.
func (c *Cluster) readyEndpointNodes(ctx context.Context, ns, name string) (map[string]bool, error) {
	var slices discoveryv1.EndpointSliceList
	if err := c.Client.List(ctx, &slices, client.InNamespace(ns), client.MatchingLabels{discoveryv1.LabelServiceName: name}); err != nil {
		return nil, fmt.Errorf("service %s/%s: endpointslices: %w", ns, name, err)
	}
	ready := map[string]bool{}
	for _, s := range slices.Items {
		for _, ep := range s.Endpoints {
			if ptr.Deref(ep.Conditions.Ready, false) && ep.NodeName != nil {
				ready[*ep.NodeName] = true
			}
		}
	}
	return ready, nil
}
