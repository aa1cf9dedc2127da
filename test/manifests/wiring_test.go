package manifests_test

import (
	"fmt"
	"net"
	"strconv"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/herald-lb/herald/webhook/certs"
)

// TestWebhookServiceSelectsControllerPods: the API server reaches the
// webhooks through the Service, which must select the Deployment's pods
// and forward to the port the webhook server listens on.
func TestWebhookServiceSelectsControllerPods(t *testing.T) {
	r := loadRelease(t)
	pod := labels.Set(r.deployment.Spec.Template.Labels)

	sel, err := metav1.LabelSelectorAsSelector(r.deployment.Spec.Selector)
	if err != nil || sel.Empty() || !sel.Matches(pod) {
		t.Errorf("Deployment selector %v (err %v) does not select its pod labels %v", r.deployment.Spec.Selector, err, pod)
	}
	if len(r.webhookSvc.Spec.Selector) == 0 {
		t.Fatalf("Service %s has no selector", r.webhookSvc.Name)
	}
	if !labels.SelectorFromSet(r.webhookSvc.Spec.Selector).Matches(pod) {
		t.Errorf("Service %s selector %v does not match the controller's pod labels %v",
			r.webhookSvc.Name, r.webhookSvc.Spec.Selector, pod)
	}
	for _, pdb := range ofKind[policyv1.PodDisruptionBudget](t, r.objs, "PodDisruptionBudget") {
		sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
		if err != nil || !sel.Matches(pod) {
			t.Errorf("PodDisruptionBudget %s selector %v (err %v) does not match the controller's pods", pdb.Name, pdb.Spec.Selector, err)
		}
	}

	webhookPort := flagInt(t, r.controller, "webhook-port", 9443)
	if len(r.webhookSvc.Spec.Ports) != 1 {
		t.Fatalf("Service %s: want one port, got %d", r.webhookSvc.Name, len(r.webhookSvc.Spec.Ports))
	}
	sp := r.webhookSvc.Spec.Ports[0]
	if sp.Port != 443 {
		t.Errorf("Service %s port %d: the webhook configurations leave the port out, which means 443", r.webhookSvc.Name, sp.Port)
	}
	if got, ok := r.controller.resolvePort(sp.TargetPort); !ok || got != webhookPort {
		t.Errorf("Service %s targetPort %s resolves to container port %d (found %v), want --webhook-port %d",
			r.webhookSvc.Name, sp.TargetPort.String(), got, ok, webhookPort)
	}
}

// TestWebhookConfigurationsNameTheService: every webhook's clientConfig
// must point at the rendered Service (kustomize rewrites the generated
// "webhook-service" in "system"), and the configurations must carry the
// names whose caBundle the controller manages.
func TestWebhookConfigurationsNameTheService(t *testing.T) {
	r := loadRelease(t)
	if r.webhookSvc.Name != certs.DefaultServiceName || r.webhookSvc.Namespace != certs.DefaultNamespace {
		t.Errorf("webhook Service is %s/%s, want webhook/certs' default %s/%s",
			r.webhookSvc.Namespace, r.webhookSvc.Name, certs.DefaultNamespace, certs.DefaultServiceName)
	}
	if r.validating.Name != certs.DefaultValidatingWebhook {
		t.Errorf("ValidatingWebhookConfiguration is %q, want %q", r.validating.Name, certs.DefaultValidatingWebhook)
	}
	if r.mutating.Name != certs.DefaultMutatingWebhook {
		t.Errorf("MutatingWebhookConfiguration is %q, want %q", r.mutating.Name, certs.DefaultMutatingWebhook)
	}

	check := func(config, webhook string, cc admissionregistrationv1.WebhookClientConfig) {
		t.Helper()
		where := fmt.Sprintf("%s webhook %s", config, webhook)
		switch {
		case cc.Service == nil:
			t.Errorf("%s: clientConfig has no service", where)
		case cc.Service.Name != r.webhookSvc.Name || cc.Service.Namespace != r.webhookSvc.Namespace:
			t.Errorf("%s: clientConfig.service is %s/%s, want %s/%s", where,
				cc.Service.Namespace, cc.Service.Name, r.webhookSvc.Namespace, r.webhookSvc.Name)
		case cc.Service.Port != nil && *cc.Service.Port != r.webhookSvc.Spec.Ports[0].Port:
			t.Errorf("%s: clientConfig.service.port %d is not the Service's", where, *cc.Service.Port)
		case cc.Service.Path == nil || *cc.Service.Path == "":
			t.Errorf("%s: clientConfig.service has no path", where)
		}
		if len(cc.CABundle) != 0 {
			t.Errorf("%s: caBundle is set; the controller fills it in, a fixed one would be overwritten", where)
		}
	}
	if len(r.validating.Webhooks) == 0 || len(r.mutating.Webhooks) == 0 {
		t.Fatalf("want webhooks in both configurations, got %d validating and %d mutating",
			len(r.validating.Webhooks), len(r.mutating.Webhooks))
	}
	for _, w := range r.validating.Webhooks {
		check(r.validating.Name, w.Name, w.ClientConfig)
	}
	for _, w := range r.mutating.Webhooks {
		check(r.mutating.Name, w.Name, w.ClientConfig)
	}
}

// TestControllerFlagsNameTheRenderedObjects: the flags in the Deployment
// must name the objects the manifest renders, and those names must be
// webhook/certs' defaults (so a controller started without the flags, as
// in the tests, behaves the same).
func TestControllerFlagsNameTheRenderedObjects(t *testing.T) {
	r := loadRelease(t)
	ns := r.deployment.Namespace
	if ns != certs.DefaultNamespace {
		t.Errorf("Deployment is in %q, want %q", ns, certs.DefaultNamespace)
	}
	for _, tc := range []struct {
		flag, def string
		want      []string // what the rendered manifest says it must be
	}{
		{"webhook-secret-namespace", certs.DefaultNamespace, []string{ns, r.webhookSvc.Namespace}},
		{"webhook-secret-name", certs.DefaultSecretName, nil},
		{"webhook-service-name", certs.DefaultServiceName, []string{r.webhookSvc.Name}},
		{"validating-webhook-configuration", certs.DefaultValidatingWebhook, []string{r.validating.Name}},
		{"mutating-webhook-configuration", certs.DefaultMutatingWebhook, []string{r.mutating.Name}},
		{"leader-election-namespace", ns, []string{ns}},
	} {
		got, ok := r.controller.args[tc.flag]
		if !ok {
			got = tc.def // the controller's default applies
		}
		if got != tc.def {
			t.Errorf("--%s=%s, want the default %q", tc.flag, got, tc.def)
		}
		for _, w := range tc.want {
			if got != w {
				t.Errorf("--%s=%s, but the manifest renders %q", tc.flag, got, w)
			}
		}
	}
	if r.controller.args["leader-elect"] != "true" {
		t.Errorf("--leader-elect=%q: two replicas must elect the allocator", r.controller.args["leader-elect"])
	}
	if n := r.deployment.Spec.Replicas; n == nil || *n < 2 {
		t.Errorf("replicas %v: want at least two, so the fail-closed webhooks survive a restart", n)
	}

	// The certificate directory must be writable although the root
	// filesystem is not: an emptyDir mounted there.
	dir, ok := r.controller.args["webhook-cert-dir"]
	if !ok {
		t.Fatal("no --webhook-cert-dir: the default is under /tmp, read-only in this pod")
	}
	if vol := mountedVolume(r.controller, dir); vol == nil || vol.EmptyDir == nil {
		t.Errorf("--webhook-cert-dir=%s is not an emptyDir mount of container %s", dir, r.controller.container.Name)
	}

	probe := flagInt(t, r.controller, "health-probe-bind-address", 8081)
	for name, p := range map[string]*corev1.Probe{"liveness": r.controller.container.LivenessProbe, "readiness": r.controller.container.ReadinessProbe} {
		if p == nil || p.HTTPGet == nil {
			t.Errorf("%s probe: want an HTTP probe", name)
			continue
		}
		if got, ok := r.controller.resolvePort(p.HTTPGet.Port); !ok || got != probe {
			t.Errorf("%s probe port %s is not --health-probe-bind-address's %d", name, p.HTTPGet.Port.String(), probe)
		}
	}
}

// mountedVolume returns the volume mounted at path in the workload's
// container.
func mountedVolume(w *workload, path string) *corev1.Volume {
	for _, m := range w.container.VolumeMounts {
		if m.MountPath != path {
			continue
		}
		for i, v := range w.pod.Volumes {
			if v.Name == m.Name {
				return &w.pod.Volumes[i]
			}
		}
	}
	return nil
}

// flagInt reads a port flag, given either as a number or as host:port,
// falling back to the command's default.
func flagInt(t *testing.T, w *workload, name string, def int32) int32 {
	t.Helper()
	v, ok := w.args[name]
	if !ok {
		return def
	}
	if _, port, err := net.SplitHostPort(v); err == nil {
		v = port
	}
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil {
		t.Fatalf("%s %s: --%s=%s: not a port", w.kind, w.name, name, v)
	}
	return int32(n)
}
