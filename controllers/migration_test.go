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

// classless makes a test Service carry no opt-in of Herald's own: no class
// and no OpenELB annotation, as MetalLB's Services are.
func classless(s *corev1.Service) { delete(s.Annotations, v1alpha2.AnnotationLoadBalancer) }

// giveStatus writes addresses into a Service's status, as MetalLB would
// have before Herald took the Service over.
func giveStatus(t *testing.T, ns, name string, ips ...string) {
	t.Helper()
	testenv.Eventually(t, 10*time.Second, func() error {
		var svc corev1.Service
		if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &svc); err != nil {
			return err
		}
		svc.Status.LoadBalancer.Ingress = nil
		for _, ip := range ips {
			svc.Status.LoadBalancer.Ingress = append(svc.Status.LoadBalancer.Ingress, corev1.LoadBalancerIngress{IP: ip})
		}
		return env.Client.Status().Update(context.Background(), &svc)
	})
}

// untouched checks, for as long as it takes Herald to serve a Service
// created after them, that Services kept their status and got no event.
func untouched(t *testing.T, ns string, want map[string][]string) {
	t.Helper()
	createService(t, ns, "witness")
	waitIngress(t, ns, "witness", "198.18.3.0")
	var events corev1.EventList
	if err := env.Client.List(context.Background(), &events, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	for name, ips := range want {
		var svc corev1.Service
		if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &svc); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, in := range svc.Status.LoadBalancer.Ingress {
			got = append(got, in.IP)
		}
		if len(got) != len(ips) || (len(ips) > 0 && got[0] != ips[0]) {
			t.Errorf("%s: status %v, want %v untouched", name, got, ips)
		}
		for _, e := range events.Items {
			if e.InvolvedObject.Name == name {
				t.Errorf("%s got an event: %s %s", name, e.Reason, e.Message)
			}
		}
	}
}

// TestMetalLBOptInOff: with the opt-ins off (the default), Services
// annotated for MetalLB, and class-less ones, are left alone.
func TestMetalLBOptInOff(t *testing.T) {
	startController(t, Options{})
	withBgp(t)
	createEip(t, "mlb-off", "198.18.3.0/29", asDefault)
	ns := namespace(t, nil)
	createService(t, ns, "pool", classless, annotated(v1alpha2.AnnotationMetalLBAddressPool, "mlb-off"))
	createService(t, ns, "ips", classless, annotated(v1alpha2.AnnotationMetalLBLoadBalancerIPs, "198.18.3.3"))
	createService(t, ns, "plain", classless)
	giveStatus(t, ns, "plain", "198.18.3.4")
	untouched(t, ns, map[string][]string{"pool": nil, "ips": nil, "plain": {"198.18.3.4"}})
}

// TestMetalLBAnnotations: with metallb-annotations, class-less Services
// with MetalLB's annotations are Herald's, their pool, addresses and
// sharing keys read from them; class-less Services without are not.
func TestMetalLBAnnotations(t *testing.T) {
	startController(t, Options{MetalLBAnnotations: true})
	withBgp(t)
	createEip(t, "mlb-default", "198.18.3.0/29", asDefault)
	createEip(t, "mlb-pool", "198.18.4.0/29")
	ns, other := namespace(t, nil), namespace(t, nil)

	createService(t, ns, "pool", classless, annotated(v1alpha2.AnnotationMetalLBAddressPool, "mlb-pool"))
	waitIngress(t, ns, "pool", "198.18.4.0")
	createService(t, ns, "legacy-pool", classless, annotated(v1alpha2.AnnotationMetalLBAddressPoolLegacy, "mlb-pool"))
	waitIngress(t, ns, "legacy-pool", "198.18.4.1")
	createService(t, ns, "ips", classless, annotated(v1alpha2.AnnotationMetalLBLoadBalancerIPs, "198.18.4.5"))
	waitIngress(t, ns, "ips", "198.18.4.5")
	// MetalLB's sharing key: another namespace, no address asked for.
	createService(t, ns, "key1", classless, withPort(80), annotated(v1alpha2.AnnotationMetalLBAllowSharedIP, "k"))
	waitIngress(t, ns, "key1", "198.18.3.0")
	createService(t, other, "key2", classless, withPort(443), annotated(v1alpha2.AnnotationMetalLBAllowSharedIPLegacy, "k"))
	waitIngress(t, other, "key2", "198.18.3.0")

	createService(t, ns, "plain", classless)
	createService(t, ns, "after", annotated(v1alpha2.AnnotationMetalLBAddressPool, "mlb-pool"))
	waitIngress(t, ns, "after", "198.18.4.2")
	if got, err := ingressOf(ns, "plain"); err == nil {
		t.Errorf("class-less Service without MetalLB annotations got %v", got)
	}
}

// TestClasslessServices: with classless-services every class-less
// LoadBalancer Service is Herald's, from the usual pool (the default Eip).
func TestClasslessServices(t *testing.T) {
	startController(t, Options{ClasslessServices: true})
	withBgp(t)
	createEip(t, "classless", "198.18.3.0/29", asDefault)
	ns := namespace(t, nil)
	createService(t, ns, "plain", classless)
	waitIngress(t, ns, "plain", "198.18.3.0")
	// MetalLB's annotations are not read without metallb-annotations.
	createService(t, ns, "keyed", classless, withPort(443), annotated(v1alpha2.AnnotationMetalLBAllowSharedIP, "k"))
	waitIngress(t, ns, "keyed", "198.18.3.1")
}

// TestMetalLBTakeover: a Service MetalLB served keeps its address when
// Herald takes it over and the address is in an Eip and free; otherwise
// it is allocated anew with a Warning event saying why. The takeover
// holds whether Herald starts with the Service in place (restore) or the
// Service becomes Herald's while Herald runs (a MetalLB annotation added).
func TestMetalLBTakeover(t *testing.T) {
	createEip(t, "takeover", "198.18.3.0/29", asDefault)
	ns := namespace(t, nil)
	pool := annotated(v1alpha2.AnnotationMetalLBAddressPool, "takeover")
	createService(t, ns, "kept", classless, pool)
	giveStatus(t, ns, "kept", "198.18.3.6")
	createService(t, ns, "outside", classless, pool)
	giveStatus(t, ns, "outside", "10.99.0.1")
	createService(t, ns, "taken", classless)
	giveStatus(t, ns, "taken", "198.18.3.6")
	createService(t, ns, "later", classless)
	giveStatus(t, ns, "later", "198.18.3.4")

	startController(t, Options{MetalLBAnnotations: true})
	// The Eip predates the controller; free it while the controller still
	// runs (cleanups run last first).
	t.Cleanup(func() { deleteEip(t, "takeover") })
	withBgp(t)
	waitIngress(t, ns, "kept", "198.18.3.6")
	waitIngress(t, ns, "outside", "198.18.3.0")
	waitEvent(t, ns, "outside", ReasonAddressNotKept, "10.99.0.1 is in no Eip")

	becomeHerald := func(name string) {
		testenv.Eventually(t, 10*time.Second, func() error {
			var svc corev1.Service
			if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &svc); err != nil {
				return err
			}
			if svc.Annotations == nil {
				svc.Annotations = map[string]string{}
			}
			svc.Annotations[v1alpha2.AnnotationMetalLBAllowSharedIP] = name
			return env.Client.Update(context.Background(), &svc)
		})
	}
	// Taken: 198.18.3.6 is held by kept; a Service showing it in its
	// status gets another address and is told why.
	becomeHerald("taken")
	waitEvent(t, ns, "taken", ReasonAddressNotKept, "held by "+ns+"/kept")
	waitIngress(t, ns, "taken", "198.18.3.1")
	// Free and in an Eip: kept.
	becomeHerald("later")
	waitIngress(t, ns, "later", "198.18.3.4")
}

// TestMigratedServiceKeepsHeraldsAddress: once Herald gave a Service that
// is Herald's by a migration opt-in its address (the Eip's status.used
// says so), a restart restores it like any of Herald's, even while its Eip
// is invalid: it is not taken for an address another load balancer gave.
// The compact status.used, which names no Service, records it as well.
func TestMigratedServiceKeepsHeraldsAddress(t *testing.T) {
	for _, form := range []string{UsedFull, UsedCompact} {
		t.Run(form, func(t *testing.T) { migratedKeepsHeraldsAddress(t, form) })
	}
}

func migratedKeepsHeraldsAddress(t *testing.T, form string) {
	opts := Options{ClasslessServices: true, EipStatusUsed: UsedForm{Mode: form}}
	stop := startController(t, opts)
	withBgp(t)
	createEip(t, "migrated", "198.18.5.0/30", asDefault)
	ns := namespace(t, nil)
	createService(t, ns, "web", classless)
	waitIngress(t, ns, "web", "198.18.5.0")
	if form == UsedCompact {
		waitCompact(t, "migrated", "198.18.5.0")
	} else {
		waitEipStatus(t, "migrated", func(st v1alpha2.EipStatus) error {
			if st.Used["198.18.5.0"] != ns+"/web" {
				return fmt.Errorf("status.used %v, want 198.18.5.0 recorded for %s/web", st.Used, ns)
			}
			return nil
		})
	}
	stop()

	setAddress := func(address string) {
		testenv.Eventually(t, 10*time.Second, func() error {
			var e v1alpha2.Eip
			if err := env.Client.Get(context.Background(), client.ObjectKey{Name: "migrated"}, &e); err != nil {
				return err
			}
			e.Spec.Address = address
			return env.Client.Update(context.Background(), &e)
		})
	}
	setAddress("198.18.5.300") // invalid: no pool holds the address
	startController(t, opts)
	t.Cleanup(func() { deleteEip(t, "migrated") })
	waitEipStatus(t, "migrated", func(st v1alpha2.EipStatus) error {
		if st.Ready {
			return fmt.Errorf("invalid Eip still ready")
		}
		return nil
	})
	createService(t, ns, "witness")
	waitEvent(t, ns, "witness", ReasonAllocationFailed, "")
	waitIngress(t, ns, "web", "198.18.5.0")
	// Taken for another load balancer's, its address would have been
	// judged for adoption, failed (no valid Eip holds it) and reported.
	noEvent(t, ns, "web", ReasonAddressNotKept)
	setAddress("198.18.5.0/30")
	waitIngress(t, ns, "witness", "198.18.5.1")
	waitIngress(t, ns, "web", "198.18.5.0")
}
