package controllers

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/internal/testenv"
)

func withLegacyFinalizer(s *corev1.Service) {
	s.Finalizers = append(s.Finalizers, LegacyServiceFinalizer)
}

// waitFinalizers waits until obj's finalizers are exactly want (none when
// want is empty).
func waitFinalizers(t *testing.T, obj client.Object, want ...string) {
	t.Helper()
	testenv.Eventually(t, 10*time.Second, func() error {
		if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil {
			return err
		}
		if fmt.Sprint(obj.GetFinalizers()) != fmt.Sprint(want) {
			return fmt.Errorf("%s finalizers = %v, want %v", obj.GetName(), obj.GetFinalizers(), want)
		}
		return nil
	})
}

// waitGone waits until obj no longer exists.
func waitGone(t *testing.T, obj client.Object, within time.Duration) {
	t.Helper()
	testenv.Eventually(t, within, func() error {
		err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(obj), obj)
		if err == nil {
			return fmt.Errorf("%s still exists (finalizers %v)", obj.GetName(), obj.GetFinalizers())
		}
		return client.IgnoreNotFound(err)
	})
}

// TestLegacyServiceFinalizerRemoved: a Service that comes from OpenELB or
// an older Herald carries finalizer.lb.kubesphere.io/v1alpha1; Herald
// removes it, and adds none to new Services.
func TestLegacyServiceFinalizerRemoved(t *testing.T) {
	startController(t, Options{})
	createEip(t, "legacy-svc", "192.0.2.168/30", asDefault)
	ns := namespace(t, nil)
	old := createService(t, ns, "old", withLegacyFinalizer)
	waitIngress(t, ns, "old", "192.0.2.168")
	waitFinalizers(t, old)
	fresh := createService(t, ns, "fresh")
	waitIngress(t, ns, "fresh", "192.0.2.169")
	waitFinalizers(t, fresh)
}

// TestDeleteWhileControllerDown: with the controller stopped, a Service
// (which carried the legacy finalizer and was cleaned) and an Eip no
// Service holds can be deleted; on restart the deleted Service's address
// is free and handed to a Service created meanwhile, and no address is
// given twice.
func TestDeleteWhileControllerDown(t *testing.T) {
	ctx := context.Background()
	stop := startController(t, Options{})
	createEip(t, "down-pool", "192.0.2.176/30", asDefault)
	spare := createEip(t, "down-spare", "198.51.100.176/30", func(e *v1alpha2.Eip) {
		e.Finalizers = []string{EipFinalizer} // as OpenELB left it
	})
	ns := namespace(t, nil)
	legacy := createService(t, ns, "legacy", withLegacyFinalizer)
	waitIngress(t, ns, "legacy", "192.0.2.176")
	waitFinalizers(t, legacy)
	createService(t, ns, "keep")
	waitIngress(t, ns, "keep", "192.0.2.177")
	waitFinalizers(t, spare) // not in use: nothing to protect
	stop()

	if err := env.Client.Delete(ctx, legacy); err != nil {
		t.Fatal(err)
	}
	waitGone(t, legacy, 5*time.Second)
	if err := env.Client.Delete(ctx, spare); err != nil {
		t.Fatal(err)
	}
	waitGone(t, spare, 5*time.Second)
	createService(t, ns, "newcomer")

	startController(t, Options{})
	t.Cleanup(func() { deleteEip(t, "down-pool") }) // while this controller runs
	waitIngress(t, ns, "newcomer", "192.0.2.176")
	waitIngress(t, ns, "keep", "192.0.2.177")
	createService(t, ns, "later")
	waitIngress(t, ns, "later", "192.0.2.178")
}

// TestEipFinalizerOnlyWhileInUse: an Eip carries the finalizer while a
// Service holds one of its addresses, and loses it when the last one lets
// go, so that an Eip nobody uses never waits for Herald to be deleted.
func TestEipFinalizerOnlyWhileInUse(t *testing.T) {
	e := createEip(t, "inuse", "192.0.2.184/30", asDefault)
	startController(t, Options{})
	ns := namespace(t, nil)
	waitFinalizers(t, e)
	svc := createService(t, ns, "holder")
	waitIngress(t, ns, "holder", "192.0.2.184")
	waitFinalizers(t, e, EipFinalizer)
	if err := env.Client.Delete(context.Background(), svc); err != nil {
		t.Fatal(err)
	}
	waitFinalizers(t, e)
}

// TestTypeChangedWhileControllerDown: a Service that stops being a
// LoadBalancer while the controller is down is left with no stale
// address, without a finalizer to mark it as Herald's: the API server
// clears status.loadBalancer itself when the type changes.
func TestTypeChangedWhileControllerDown(t *testing.T) {
	ctx := context.Background()
	stop := startController(t, Options{})
	createEip(t, "retyped", "192.0.2.188/30", asDefault)
	ns := namespace(t, nil)
	svc := createService(t, ns, "web")
	waitIngress(t, ns, "web", "192.0.2.188")
	stop()

	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(svc), svc); err != nil {
		t.Fatal(err)
	}
	svc.Spec.Type = corev1.ServiceTypeClusterIP
	svc.Spec.AllocateLoadBalancerNodePorts = nil
	if err := env.Client.Update(ctx, svc); err != nil {
		t.Fatal(err)
	}
	startController(t, Options{})
	t.Cleanup(func() { deleteEip(t, "retyped") }) // while this controller runs
	testenv.Eventually(t, 10*time.Second, func() error {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(svc), svc); err != nil {
			return err
		}
		if len(svc.Status.LoadBalancer.Ingress) > 0 {
			return fmt.Errorf("status still %v", svc.Status.LoadBalancer.Ingress)
		}
		return nil
	})
}
