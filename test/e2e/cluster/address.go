package cluster

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-lb/herald/test/e2e/rig"
)

// WaitAddress polls svc every interval, for at most within, until the
// controller has written its first load-balancer address, and returns it:
// benchmarks time from that moment, so their polling interval is theirs.
func (c *Cluster) WaitAddress(ctx context.Context, svc *corev1.Service, within, interval time.Duration) (netip.Addr, error) {
	var a netip.Addr
	err := rig.Eventually(ctx, within, interval, func(ctx context.Context) error {
		var cur corev1.Service
		if err := c.Client.Get(ctx, client.ObjectKeyFromObject(svc), &cur); err != nil {
			return err
		}
		if len(cur.Status.LoadBalancer.Ingress) == 0 {
			return fmt.Errorf("service %s/%s has no address yet", svc.Namespace, svc.Name)
		}
		var err error
		a, err = netip.ParseAddr(cur.Status.LoadBalancer.Ingress[0].IP)
		return err
	})
	return a, err
}
