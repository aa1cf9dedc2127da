package chart_test

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/internal/testenv"
)

// TestCustomRenderAppliesToAPIServer dry-runs the custom render on a real
// API server, strictly and server-side, in dependency order (the approach
// and code of test/manifests' check of deploy/herald.yaml, shared through
// internal/testenv), with a pod of every workload. The render leaves the
// CRDs out (crds.enabled false), so the API server starts with
// config/crd's; the namespace and the PriorityClass exist first, as the
// README says they must. The ServiceMonitor is left out: this API server
// has no Prometheus Operator CRD (TestCustomValuesLand checks it).
//
// Then it installs the admission policy of the disabled layer2 mode for
// real and checks that a layer2 Eip is refused with a message naming the
// Helm value, while a bgp one is admitted.
func TestCustomRenderAppliesToAPIServer(t *testing.T) {
	var objs []*unstructured.Unstructured
	for _, u := range renderCustom(t) {
		if u.GetKind() == "ServiceMonitor" {
			continue
		}
		objs = append(objs, u)
	}
	env := testenv.Start(t, testenv.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name:   customNamespace,
		Labels: map[string]string{"pod-security.kubernetes.io/enforce": "privileged"},
	}}
	pc := &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "herald-critical"}, Value: 1000000}
	for _, obj := range []client.Object{ns, pc} {
		if err := env.Client.Create(ctx, obj); err != nil {
			t.Fatal(err)
		}
	}
	env.DryRunApply(ctx, t, "custom render", objs)
	if t.Failed() {
		return
	}

	for _, u := range objs {
		if strings.HasPrefix(u.GetKind(), "ValidatingAdmissionPolicy") && strings.HasSuffix(u.GetName(), "-eip-modes") {
			if err := env.Client.Create(ctx, u.DeepCopy(), testenv.Strict); err != nil {
				t.Fatalf("create %s: %v", key(u), err)
			}
		}
	}
	eip := func(protocol string) *v1alpha2.Eip {
		return &v1alpha2.Eip{
			ObjectMeta: metav1.ObjectMeta{Name: "pool-" + protocol},
			Spec:       v1alpha2.EipSpec{Address: "192.0.2.0/28", Protocol: protocol},
		}
	}
	// Policies take effect once the API server's policy informer has them:
	// poll until the layer2 Eip is refused.
	testenv.Eventually(t, 20*time.Second, func() error {
		err := env.Client.Create(ctx, eip(v1alpha2.ProtocolLayer2), client.DryRunAll)
		if err == nil {
			return errNotYet
		}
		if !strings.Contains(err.Error(), "modes.layer2.enabled is false") {
			t.Fatalf("layer2 Eip refused with %q, want the message naming modes.layer2.enabled", err)
		}
		return nil
	})
	if err := env.Client.Create(ctx, eip(v1alpha2.ProtocolBGP), client.DryRunAll); err != nil {
		t.Errorf("bgp Eip refused with layer2 disabled: %v", err)
	}
}

// errNotYet is what a poll returns while the policy is not in force.
var errNotYet = errorString("the layer2 Eip is still admitted")

type errorString string

func (e errorString) Error() string { return string(e) }
