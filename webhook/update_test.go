package webhook_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-lb/herald/api/v1alpha2"
)

// TestEipUpdates edits a pool that has two addresses in use, one recorded
// only by a Service's status (as right after allocation) and one only in
// the Eip's status.used, with `kubectl patch`-style merge patches. OpenELB
// refused every address edit; Herald refuses only those that strand an
// allocated address, and names the addresses.
func TestEipUpdates(t *testing.T) {
	ctx := context.Background()
	c, _ := userClient(t)

	pool := manifest(t, `
apiVersion: network.kubesphere.io/v1alpha2
kind: Eip
metadata: {name: pool-in-use}
spec: {address: 10.50.0.0-10.50.0.10}`)
	if err := c.Create(ctx, pool); err != nil {
		t.Fatal(err)
	}
	deleteAfter(t, pool)

	// 10.50.0.8 is held by a Service whose status carries it.
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "eip-updates"}}
	if err := env.Client.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns.Name, Name: "web", Annotations: map[string]string{
			v1alpha2.AnnotationLoadBalancer: v1alpha2.AnnotationLoadBalancerValue, v1alpha2.AnnotationEip: "pool-in-use"}},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Ports: []corev1.ServicePort{{Port: 80}}},
	}
	if err := env.Client.Create(ctx, svc); err != nil {
		t.Fatal(err)
	}
	deleteAfter(t, svc)
	setIngress := func(ips ...string) {
		t.Helper()
		svc.Status.LoadBalancer.Ingress = nil
		for _, ip := range ips {
			svc.Status.LoadBalancer.Ingress = append(svc.Status.LoadBalancer.Ingress, corev1.LoadBalancerIngress{IP: ip})
		}
		if err := env.Client.Status().Update(ctx, svc); err != nil {
			t.Fatal(err)
		}
	}
	setIngress("10.50.0.8")

	// 10.50.0.9 is recorded in the pool's status only.
	setUsed := func(used map[string]string) {
		t.Helper()
		var e v1alpha2.Eip
		if err := env.Client.Get(ctx, client.ObjectKey{Name: "pool-in-use"}, &e); err != nil {
			t.Fatal(err)
		}
		e.Status.Used = used
		if err := env.Client.Status().Update(ctx, &e); err != nil {
			t.Fatal(err)
		}
	}
	setUsed(map[string]string{"10.50.0.9": "eip-updates/other"})

	steps := []struct {
		name   string
		before func()
		patch  string
		field  string // "" when the patch must be admitted
		phrase string
	}{{
		name:  "growth is admitted",
		patch: `{"spec":{"address":"10.50.0.0-10.50.0.20"}}`,
	}, {
		name:   "a shrink that drops both addresses in use is refused, naming them",
		patch:  `{"spec":{"address":"10.50.0.0-10.50.0.5"}}`,
		field:  "spec.address",
		phrase: "would drop 2 allocated address(es): 10.50.0.8, 10.50.0.9",
	}, {
		name:   "a CIDR that drops them is refused too",
		patch:  `{"spec":{"address":"10.50.0.0/29"}}`,
		field:  "spec.address",
		phrase: "10.50.0.8, 10.50.0.9; keep them in the pool or release them first",
	}, {
		name:  "a shrink that keeps them is admitted",
		patch: `{"spec":{"address":"10.50.0.8-10.50.0.9"}}`,
	}, {
		name:   "moving the pool elsewhere is refused",
		patch:  `{"spec":{"address":"10.51.0.0/24"}}`,
		field:  "spec.address",
		phrase: "would drop 2 allocated address(es)",
	}, {
		name:   "changing the protocol while addresses are in use is refused",
		patch:  `{"spec":{"protocol":"layer2","interface":"eth0"}}`,
		field:  "spec.protocol",
		phrase: "cannot change from bgp to layer2 while 2 address(es) are allocated",
	}, {
		name:  "labels can always change",
		patch: `{"metadata":{"labels":{"team":"net"}}}`,
	}, {
		name:   "with the Service's address released, only status.used holds one",
		before: func() { setIngress() },
		patch:  `{"spec":{"address":"10.50.0.8"}}`,
		field:  "spec.address",
		phrase: "would drop 1 allocated address(es): 10.50.0.9",
	}, {
		name:   "with nothing in use, anything valid goes",
		before: func() { setUsed(nil) },
		patch:  `{"spec":{"address":"10.52.0.0/24","protocol":"layer2","interface":"eth0"}}`,
	}, {
		name:   "but an edit is still validated on its own",
		patch:  `{"spec":{"interface":"can_reach:nowhere"}}`,
		field:  "spec.interface",
		phrase: "can_reach: must be followed by one IPv4 or IPv6 address",
	}}
	for _, step := range steps {
		if step.before != nil {
			step.before()
		}
		err := c.Patch(ctx, pool, client.RawPatch(types.MergePatchType, []byte(step.patch)))
		if step.field == "" {
			if err != nil {
				t.Errorf("%s: refused: %v", step.name, err)
			}
			continue
		}
		var status *apierrors.StatusError
		if !errors.As(err, &status) || !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), byEip) {
			t.Errorf("%s: got %v; want a refusal by the Eip webhook", step.name, err)
			continue
		}
		found := false
		for _, cause := range status.ErrStatus.Details.Causes {
			found = found || (cause.Field == step.field && strings.Contains(cause.Message, step.phrase))
		}
		if !found {
			t.Errorf("%s: refusal %v has no cause at %s containing %q", step.name, err, step.field, step.phrase)
		}
	}
}
