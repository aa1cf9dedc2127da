package controllers

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/internal/testenv"
)

func TestAllocation(t *testing.T) {
	startController(t, Options{})
	ctx := context.Background()
	createEip(t, "alloc-default", "192.0.2.0/30", asDefault)
	createEip(t, "alloc-named", "198.51.100.10-198.51.100.12")
	ns := namespace(t, nil)

	t.Run("default pool, network address first, event", func(t *testing.T) {
		createService(t, ns, "first")
		waitIngress(t, ns, "first", "192.0.2.0")
		waitEvent(t, ns, "first", ReasonIPAllocated, "allocated 192.0.2.0 from Eip alloc-default")
		var svc corev1.Service
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "first"}, &svc); err != nil {
			t.Fatal(err)
		}
		if len(svc.Finalizers) > 0 {
			t.Errorf("finalizers = %v, want none", svc.Finalizers)
		}
		if m := svc.Status.LoadBalancer.Ingress[0].IPMode; m == nil || *m != corev1.LoadBalancerIPModeVIP {
			t.Errorf("ipMode = %v, want VIP", m)
		}
	})
	t.Run("named eip, both annotation spellings", func(t *testing.T) {
		createService(t, ns, "named", annotated(v1alpha2.AnnotationEip, "alloc-named"))
		waitIngress(t, ns, "named", "198.51.100.10")
		createService(t, ns, "short", annotated(v1alpha2.AnnotationEipShort, "alloc-named"))
		waitIngress(t, ns, "short", "198.51.100.11")
	})
	t.Run("requested address by annotation and spec.loadBalancerIP", func(t *testing.T) {
		createService(t, ns, "req-annotation", annotated(v1alpha2.AnnotationRequestedIP, "192.0.2.3"))
		waitIngress(t, ns, "req-annotation", "192.0.2.3")
		createService(t, ns, "req-spec", func(s *corev1.Service) { s.Spec.LoadBalancerIP = "198.51.100.12" })
		waitIngress(t, ns, "req-spec", "198.51.100.12")
	})
	t.Run("failures are events with the reason", func(t *testing.T) {
		createService(t, ns, "outside", annotated(v1alpha2.AnnotationRequestedIP, "203.0.113.7"))
		waitEvent(t, ns, "outside", ReasonAllocationFailed, "IPOutsideEips: "+ns+"/outside asks for 203.0.113.7, which is in no Eip")
		createService(t, ns, "missing", annotated(v1alpha2.AnnotationEip, "no-such-eip"))
		waitEvent(t, ns, "missing", ReasonAllocationFailed, `EipNotFound: `+ns+`/missing names Eip "no-such-eip"`)
		createService(t, ns, "taken", annotated(v1alpha2.AnnotationRequestedIP, "192.0.2.0"))
		waitEvent(t, ns, "taken", ReasonAllocationFailed, "IPInUse")
		createService(t, ns, "garbage", annotated(v1alpha2.AnnotationRequestedIP, "not-an-ip"))
		waitEvent(t, ns, "garbage", ReasonAllocationFailed, `annotation eip.openelb.kubesphere.io/v1alpha1: "not-an-ip" is not an IP address`)
	})
	t.Run("exhausted pool waits, then gets the address another Service frees", func(t *testing.T) {
		createService(t, ns, "fill")
		waitIngress(t, ns, "fill", "192.0.2.1")
		createService(t, ns, "fill2")
		waitIngress(t, ns, "fill2", "192.0.2.2")
		createService(t, ns, "waiting")
		waitEvent(t, ns, "waiting", ReasonAllocationFailed, "PoolExhausted")
		if err := env.Client.Delete(ctx, &corev1.Service{ObjectMeta: objMeta(ns, "fill")}); err != nil {
			t.Fatal(err)
		}
		waitIngress(t, ns, "waiting", "192.0.2.1")
		testenv.Eventually(t, 10*time.Second, func() error {
			err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "fill"}, &corev1.Service{})
			if err == nil {
				return fmt.Errorf("deleted Service still exists (finalizer not removed)")
			}
			return client.IgnoreNotFound(err)
		})
	})
	t.Run("no longer a LoadBalancer: status cleared, finalizer gone, address reused", func(t *testing.T) {
		var svc corev1.Service
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "fill2"}, &svc); err != nil {
			t.Fatal(err)
		}
		svc.Spec.Type = corev1.ServiceTypeClusterIP
		svc.Spec.AllocateLoadBalancerNodePorts = nil
		if err := env.Client.Update(ctx, &svc); err != nil {
			t.Fatal(err)
		}
		testenv.Eventually(t, 10*time.Second, func() error {
			var got corev1.Service
			if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "fill2"}, &got); err != nil {
				return err
			}
			if len(got.Status.LoadBalancer.Ingress) > 0 || len(got.Finalizers) > 0 {
				return fmt.Errorf("status %v, finalizers %v", got.Status.LoadBalancer.Ingress, got.Finalizers)
			}
			return nil
		})
		createService(t, ns, "reuse")
		waitIngress(t, ns, "reuse", "192.0.2.2")
	})
}

func TestOptIn(t *testing.T) {
	startController(t, Options{LoadBalancerClass: "example.com/herald"})
	createEip(t, "optin", "192.0.2.64/30", asDefault)
	ns := namespace(t, nil)

	createService(t, ns, "by-class", annotated(v1alpha2.AnnotationLoadBalancer, ""), func(s *corev1.Service) {
		s.Spec.LoadBalancerClass = ptr.To("example.com/herald")
	})
	waitIngress(t, ns, "by-class", "192.0.2.64")

	createService(t, ns, "not-annotated", annotated(v1alpha2.AnnotationLoadBalancer, ""))
	createService(t, ns, "other-class", func(s *corev1.Service) { s.Spec.LoadBalancerClass = ptr.To("other.io/lb") })
	createService(t, ns, "after")
	waitIngress(t, ns, "after", "192.0.2.65")
	for _, name := range []string{"not-annotated", "other-class"} {
		var svc corev1.Service
		if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &svc); err != nil {
			t.Fatal(err)
		}
		if len(svc.Status.LoadBalancer.Ingress) > 0 || len(svc.Finalizers) > 0 {
			t.Errorf("%s was touched: status %v, finalizers %v", name, svc.Status.LoadBalancer.Ingress, svc.Finalizers)
		}
	}
}

func TestNamespaceBinding(t *testing.T) {
	startController(t, Options{})
	teamA := namespace(t, map[string]string{"team": "a"})
	other := namespace(t, nil)
	createEip(t, "bind-default", "192.0.2.128/30", asDefault)
	createEip(t, "bind-low", "198.51.100.128/32", func(e *v1alpha2.Eip) {
		e.Spec.NamespaceSelector = map[string]string{"team": "a"}
		e.Spec.Priority = 1
	})
	createEip(t, "bind-high", "198.51.100.140/32", func(e *v1alpha2.Eip) {
		e.Spec.Namespaces = []string{teamA}
		e.Spec.Priority = 9
	})

	createService(t, teamA, "one")
	waitIngress(t, teamA, "one", "198.51.100.128")
	createService(t, teamA, "two")
	waitIngress(t, teamA, "two", "198.51.100.140")
	createService(t, teamA, "three")
	waitEvent(t, teamA, "three", ReasonAllocationFailed, "PoolExhausted")
	createService(t, other, "elsewhere")
	waitIngress(t, other, "elsewhere", "192.0.2.128")
	createService(t, other, "not-admitted", annotated(v1alpha2.AnnotationEip, "bind-low"))
	waitEvent(t, other, "not-admitted", ReasonAllocationFailed, "NamespaceNotAdmitted")
}

func TestDualStack(t *testing.T) {
	startController(t, Options{})
	createEip(t, "ds-v4", "192.0.2.200/30", asDefault)
	createEip(t, "ds-v6", "2001:db8:d5::/126", asDefault)
	ns := namespace(t, nil)
	createService(t, ns, "both", func(s *corev1.Service) {
		s.Spec.IPFamilyPolicy = ptr.To(corev1.IPFamilyPolicyRequireDualStack)
		s.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv6Protocol, corev1.IPv4Protocol}
	})
	waitIngress(t, ns, "both", "2001:db8:d5::", "192.0.2.200")
	createService(t, ns, "single")
	waitIngress(t, ns, "single", "192.0.2.201")
}

func TestSharing(t *testing.T) {
	startController(t, Options{})
	createEip(t, "share", "192.0.2.220/30")
	ns := namespace(t, nil)
	createService(t, ns, "http", withPort(80), annotated(v1alpha2.AnnotationRequestedIP, "192.0.2.221"))
	createService(t, ns, "https", withPort(443), annotated(v1alpha2.AnnotationRequestedIP, "192.0.2.221"))
	waitIngress(t, ns, "http", "192.0.2.221")
	waitIngress(t, ns, "https", "192.0.2.221")
	createService(t, ns, "clash", withPort(443), annotated(v1alpha2.AnnotationRequestedIP, "192.0.2.221"))
	waitEvent(t, ns, "clash", ReasonAllocationFailed, "which also uses 443/TCP")
	testenv.Eventually(t, 10*time.Second, func() error {
		var e v1alpha2.Eip
		if err := env.Client.Get(context.Background(), client.ObjectKey{Name: "share"}, &e); err != nil {
			return err
		}
		if want := ns + "/http;" + ns + "/https"; e.Status.Used["192.0.2.221"] != want || e.Status.Usage != 1 {
			return fmt.Errorf("status used %v usage %d, want %s", e.Status.Used, e.Status.Usage, want)
		}
		return nil
	})
}

// TestRestartKeepsAddresses stops the controllers and starts new ones: the
// allocator is rebuilt from the Services' status, nobody moves, and a new
// Service gets the next free address, not one that is taken.
func TestRestartKeepsAddresses(t *testing.T) {
	stop := startController(t, Options{})
	createEip(t, "restart", "192.0.2.240/29", asDefault)
	ns := namespace(t, nil)
	for i, want := range []string{"192.0.2.240", "192.0.2.241", "192.0.2.242"} {
		createService(t, ns, fmt.Sprint("s", i))
		waitIngress(t, ns, fmt.Sprint("s", i), want)
	}
	if err := env.Client.Delete(context.Background(), &corev1.Service{ObjectMeta: objMeta(ns, "s1")}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, func() error {
		err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "s1"}, &corev1.Service{})
		if err == nil {
			return fmt.Errorf("s1 still there")
		}
		return client.IgnoreNotFound(err)
	})
	stop()

	// While no controller runs, a Service arrives.
	createService(t, ns, "late")
	startController(t, Options{})
	t.Cleanup(func() { deleteEip(t, "restart") }) // while this controller runs
	waitIngress(t, ns, "late", "192.0.2.241")
	waitIngress(t, ns, "s0", "192.0.2.240")
	waitIngress(t, ns, "s2", "192.0.2.242")
}
