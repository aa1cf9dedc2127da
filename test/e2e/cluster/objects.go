package cluster

import (
	"context"
	"fmt"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-lb/herald/api/v1alpha2"
)

// managedBy marks the EndpointSlices the testbed writes in place of the
// EndpointSlice controller, which the testbed does not run.
const managedBy = "e2e.herald.io"

// LoadBalancer returns a Service of type LoadBalancer that opts in to
// Herald (OpenELB's annotation) from Eip eip: port 80 to the backends'
// BackendPort. Callers adjust the rest (externalTrafficPolicy, families).
func LoadBalancer(namespace, name, eip string) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: namespace, Name: name,
			Annotations: map[string]string{
				v1alpha2.AnnotationLoadBalancer: v1alpha2.AnnotationLoadBalancerValue,
				v1alpha2.AnnotationEip:          eip,
			},
		},
		Spec: corev1.ServiceSpec{
			Type:  corev1.ServiceTypeLoadBalancer,
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(BackendPort), Protocol: corev1.ProtocolTCP}},
		},
	}
}

// PublishEndpoints writes svc's EndpointSlices (one per IP family of the
// Service, as the API server assigned them) with one ready endpoint per
// node in nodes: the node's backend, at the node's address. Publishing
// again replaces the endpoints; no nodes leaves the slices empty.
func (c *Cluster) PublishEndpoints(ctx context.Context, svc *corev1.Service, nodes ...*Node) error {
	var cur corev1.Service
	if err := c.Client.Get(ctx, client.ObjectKeyFromObject(svc), &cur); err != nil {
		return fmt.Errorf("service %s/%s: %w", svc.Namespace, svc.Name, err)
	}
	for _, family := range cur.Spec.IPFamilies {
		slice := &discoveryv1.EndpointSlice{
			ObjectMeta: metav1.ObjectMeta{
				Namespace: cur.Namespace,
				Name:      cur.Name + "-" + strings.ToLower(string(family)),
				Labels: map[string]string{
					discoveryv1.LabelServiceName: cur.Name,
					discoveryv1.LabelManagedBy:   managedBy,
				},
			},
		}
		var addrType discoveryv1.AddressType
		switch family {
		case corev1.IPv4Protocol:
			addrType = discoveryv1.AddressTypeIPv4
		case corev1.IPv6Protocol:
			addrType = discoveryv1.AddressTypeIPv6
		default:
			return fmt.Errorf("service %s/%s: unknown IP family %q", cur.Namespace, cur.Name, family)
		}
		endpoints := []discoveryv1.Endpoint{}
		for _, n := range nodes {
			addr := n.LAN.IPv4.Addr().String()
			if family == corev1.IPv6Protocol {
				addr = n.LAN.IPv6.Addr().String()
			}
			endpoints = append(endpoints, discoveryv1.Endpoint{
				Addresses:  []string{addr},
				Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true), Serving: ptr.To(true), Terminating: ptr.To(false)},
				NodeName:   ptr.To(n.Name),
			})
		}
		var ports []discoveryv1.EndpointPort
		for _, p := range cur.Spec.Ports {
			ports = append(ports, discoveryv1.EndpointPort{
				Name: ptr.To(p.Name), Protocol: ptr.To(p.Protocol), Port: ptr.To(int32(p.TargetPort.IntValue())),
			})
		}
		var existing discoveryv1.EndpointSlice
		err := c.Client.Get(ctx, client.ObjectKeyFromObject(slice), &existing)
		switch {
		case apierrors.IsNotFound(err):
			slice.AddressType, slice.Endpoints, slice.Ports = addrType, endpoints, ports
			err = c.Client.Create(ctx, slice)
		case err == nil:
			existing.Endpoints, existing.Ports = endpoints, ports
			err = c.Client.Update(ctx, &existing)
		}
		if err != nil {
			return fmt.Errorf("service %s/%s: endpointslice %s: %w", cur.Namespace, cur.Name, slice.Name, err)
		}
	}
	return nil
}

// CreateServices creates the n Services service(i) returns, from 8
// workers, as fast as the API server takes them, and with publish their
// endpoints (one per node) too: how the benchmarks fill the cluster.
func (c *Cluster) CreateServices(ctx context.Context, n int, service func(i int) *corev1.Service, publish bool) error {
	var wg sync.WaitGroup
	errs := make(chan error, n)
	next := make(chan int)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				svc := service(i)
				err := c.Client.Create(ctx, svc)
				if err == nil && publish {
					err = c.PublishEndpoints(ctx, svc, c.Nodes...)
				}
				if err != nil {
					errs <- err
				}
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	return <-errs // nil when none failed
}
