package chart_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
)

// The custom render's release, namespace and the prefix of its objects.
const (
	customRelease   = "edge"
	customNamespace = "lb-system"
	customPrefix    = "edge-herald"
	customRegistry  = "registry.example.com/lb"
)

func renderCustom(t *testing.T, extra ...string) []*unstructured.Unstructured {
	t.Helper()
	return render(t, repoPath(t, chartDir), customRelease, customNamespace, append([]string{"-f", customValues}, extra...)...)
}

// wantArgs fails for every flag of want that c does not pass with that
// value ("" means: must not be passed).
func wantArgs(t *testing.T, what string, c *corev1.Container, want map[string]string) {
	t.Helper()
	got := args(c)
	for name, value := range want {
		v, ok := got[name]
		switch {
		case value == "" && ok:
			t.Errorf("%s passes --%s=%s, want it absent", what, name, v)
		case value != "" && v != value:
			t.Errorf("%s: --%s=%q (passed: %v), want %q", what, name, v, ok, value)
		}
	}
}

func wantResources(t *testing.T, what string, c *corev1.Container, requests, limits corev1.ResourceList) {
	t.Helper()
	want := corev1.ResourceRequirements{Requests: requests, Limits: limits}
	if diff := cmp.Diff(want, c.Resources); diff != "" {
		t.Errorf("%s resources (-want +got):\n%s", what, diff)
	}
}

func q(s string) resource.Quantity { return resource.MustParse(s) }

// TestCustomValuesLand renders testdata/custom-values.yaml as release
// "edge" in "lb-system" and checks that every value lands where the
// binaries and the API server read it.
func TestCustomValuesLand(t *testing.T) {
	objs := renderCustom(t)

	if n := kinds(objs, "CustomResourceDefinition"); n != 0 {
		t.Errorf("crds.enabled false: %d CRDs rendered", n)
	}
	if n := kinds(objs, "Namespace"); n != 0 {
		t.Errorf("namespace.create false: %d Namespaces rendered", n)
	}
	for _, u := range objs {
		if got := u.GetLabels()["app.kubernetes.io/instance"]; got != customRelease {
			t.Errorf("%s: label app.kubernetes.io/instance=%q, want %q", key(u), got, customRelease)
		}
		if ns := u.GetNamespace(); ns != "" && ns != customNamespace && ns != "kube-system" {
			t.Errorf("%s: in namespace %s, want %s", key(u), ns, customNamespace)
		}
		if !strings.HasPrefix(u.GetName(), customPrefix) && !strings.Contains(u.GetName(), ".") {
			t.Errorf("%s: name lacks the release's prefix %s", key(u), customPrefix)
		}
	}

	dep := must[appsv1.Deployment](t, objs, "Deployment", customPrefix+"-controller-manager")
	ctl := container(t, &dep.Spec.Template.Spec)
	ds := must[appsv1.DaemonSet](t, objs, "DaemonSet", customPrefix+"-speaker")
	spk := container(t, &ds.Spec.Template.Spec)
	kds := must[appsv1.DaemonSet](t, objs, "DaemonSet", customPrefix+"-keepalived")
	kad := container(t, &kds.Spec.Template.Spec)

	t.Run("images", func(t *testing.T) {
		for c, want := range map[*corev1.Container]string{
			ctl: customRegistry + "/herald-controller-custom:v9.9.9",
			spk: customRegistry + "/herald-speaker:v9.9.8",
			kad: customRegistry + "/herald-keepalived:v9.9.9",
		} {
			if c.Image != want || c.ImagePullPolicy != corev1.PullAlways {
				t.Errorf("container %s: image %s (%s), want %s (Always)", c.Name, c.Image, c.ImagePullPolicy, want)
			}
		}
		for name, pod := range map[string]*corev1.PodSpec{"controller": &dep.Spec.Template.Spec, "speaker": &ds.Spec.Template.Spec, "keepalived": &kds.Spec.Template.Spec} {
			want := []corev1.LocalObjectReference{{Name: "regcred"}, {Name: "mirror-cred"}}
			if diff := cmp.Diff(want, pod.ImagePullSecrets); diff != "" {
				t.Errorf("%s imagePullSecrets (-want +got):\n%s", name, diff)
			}
		}
	})

	t.Run("controller", func(t *testing.T) {
		if dep.Spec.Replicas == nil || *dep.Spec.Replicas != 3 {
			t.Errorf("replicas %v, want 3", dep.Spec.Replicas)
		}
		wantArgs(t, "controller", ctl, map[string]string{
			"leader-elect":                     "true",
			"leader-elect-lease-duration":      "30s",
			"leader-elect-renew-deadline":      "20s",
			"eip-status-interval":              "2s",
			"eip-status-used":                  "compact",
			"load-balancer-class":              "example.com/edge-lb",
			"vrrp-vrid-range":                  "100-199",
			"vrrp-vrid-exclude":                "110-119,150",
			"webhook-secret-namespace":         "$(POD_NAMESPACE)",
			"webhook-secret-name":              customPrefix + "-webhook-certs",
			"webhook-service-name":             customPrefix + "-webhook-service",
			"validating-webhook-configuration": customPrefix + "-validating-webhook-configuration",
			"mutating-webhook-configuration":   customPrefix + "-mutating-webhook-configuration",
		})
		wantResources(t, "controller", ctl,
			corev1.ResourceList{corev1.ResourceCPU: q("100m"), corev1.ResourceMemory: q("128Mi")},
			corev1.ResourceList{corev1.ResourceMemory: q("512Mi")})
		pod := dep.Spec.Template
		if pod.Spec.PriorityClassName != "herald-critical" {
			t.Errorf("priorityClassName %q", pod.Spec.PriorityClassName)
		}
		wantMap(t, "controller nodeSelector", pod.Spec.NodeSelector, map[string]string{"kubernetes.io/os": "linux", "node-role.kubernetes.io/control-plane": ""})
		if len(pod.Spec.Tolerations) != 1 || pod.Spec.Tolerations[0].Key != "node-role.kubernetes.io/control-plane" {
			t.Errorf("controller tolerations %v", pod.Spec.Tolerations)
		}
		if pod.Spec.Affinity != nil {
			t.Errorf("controller affinity %v, want none (affinity: null)", pod.Spec.Affinity)
		}
		if pod.Annotations["example.com/controller"] != "yes" {
			t.Errorf("controller pod annotations %v", pod.Annotations)
		}
		if must[policyv1.PodDisruptionBudget](t, objs, "PodDisruptionBudget", customPrefix+"-controller-manager") == nil {
			t.Error("no PodDisruptionBudget with 3 replicas")
		}
	})

	t.Run("speaker", func(t *testing.T) {
		wantArgs(t, "speaker", spk, map[string]string{
			"metrics-bind-address":      ":17472",
			"health-probe-bind-address": ":17473",
			"shutdown-timeout":          "12s",
			"load-balancer-class":       "example.com/edge-lb",
			"vip-dir":                   "/run/herald/keepalived",
			"layer2-lease-duration":     "20s",
			"layer2-renew-deadline":     "15s",
			"layer2-retry-period":       "3s",
			"layer2-announce-repeats":   "5",
			"layer2-announce-interval":  "2s",
			"layer2-announce-refresh":   "1m",
			"layer2-handover-timeout":   "4s",
			"vrrp-advert-interval":      "100ms",
			"vrrp-preempt-delay":        "30s",
			"vrrp-unicast":              "true",
			"vrrp-participants":         "3",
			"vip-state-poll":            "2s",
			"ignore-exclude-lb":         "true",
		})
		ports := map[string]int32{}
		for _, p := range spk.Ports {
			ports[p.Name] = p.ContainerPort
		}
		if ports["metrics"] != 17472 || ports["health"] != 17473 {
			t.Errorf("speaker ports %v, want metrics 17472, health 17473", ports)
		}
		// layer2 disabled, bgp on: no raw sockets, only the low port.
		if diff := cmp.Diff([]corev1.Capability{"NET_BIND_SERVICE"}, spk.SecurityContext.Capabilities.Add); diff != "" {
			t.Errorf("speaker capabilities with layer2 disabled (-want +got):\n%s", diff)
		}
		wantResources(t, "speaker", spk,
			corev1.ResourceList{corev1.ResourceCPU: q("70m"), corev1.ResourceMemory: q("80Mi")},
			corev1.ResourceList{corev1.ResourceMemory: q("300Mi")})
		pod := ds.Spec.Template.Spec
		if pod.PriorityClassName != "herald-critical" {
			t.Errorf("speaker priorityClassName %q", pod.PriorityClassName)
		}
		wantMap(t, "speaker nodeSelector", pod.NodeSelector, map[string]string{"kubernetes.io/os": "linux", "example.com/edge": "true"})
		if len(pod.Tolerations) != 1 || pod.Tolerations[0].Key != "example.com/edge" {
			t.Errorf("speaker tolerations %v", pod.Tolerations)
		}
		if pod.Affinity == nil || pod.Affinity.NodeAffinity == nil {
			t.Errorf("speaker affinity %v, want the custom node affinity", pod.Affinity)
		}
	})

	t.Run("keepalived", func(t *testing.T) {
		wantArgs(t, "keepalived", kad, map[string]string{"metrics-bind-address": ":17474", "stop-grace": "8s"})
		wantResources(t, "keepalived", kad,
			corev1.ResourceList{corev1.ResourceCPU: q("30m"), corev1.ResourceMemory: q("40Mi")},
			corev1.ResourceList{corev1.ResourceMemory: q("100Mi")})
		pod := kds.Spec.Template.Spec
		wantMap(t, "keepalived nodeSelector", pod.NodeSelector, map[string]string{"kubernetes.io/os": "linux", "example.com/vip": "true"})
		if len(pod.Tolerations) != 0 || pod.PriorityClassName != "herald-critical" {
			t.Errorf("keepalived tolerations %v (want none), priorityClassName %q", pod.Tolerations, pod.PriorityClassName)
		}
	})

	t.Run("names", func(t *testing.T) {
		checkNames(t, objs)
	})

	t.Run("disabled layer2 is refused", func(t *testing.T) {
		vap := must[admissionregistrationv1.ValidatingAdmissionPolicy](t, objs, "ValidatingAdmissionPolicy", customPrefix+"-eip-modes")
		if len(vap.Spec.Validations) != 1 || !strings.Contains(vap.Spec.Validations[0].Expression, `["layer2"]`) {
			t.Errorf("eip-modes policy validations %v, want one refusing layer2", vap.Spec.Validations)
		}
		must[admissionregistrationv1.ValidatingAdmissionPolicyBinding](t, objs, "ValidatingAdmissionPolicyBinding", customPrefix+"-eip-modes")
	})

	t.Run("metrics", func(t *testing.T) {
		checkMetrics(t, objs)
	})
}

// checkNames: every reference between objects uses the release's names and
// namespace.
func checkNames(t *testing.T, objs []*unstructured.Unstructured) {
	t.Helper()
	for _, u := range objs {
		switch u.GetKind() {
		case "RoleBinding", "ClusterRoleBinding":
			var b rbacv1.RoleBinding // same fields as a ClusterRoleBinding
			b.Subjects = nil
			if err := convert(u, &b); err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(b.RoleRef.Name, customPrefix+"-") {
				t.Errorf("%s: roleRef %s", key(u), b.RoleRef.Name)
			}
			for _, s := range b.Subjects {
				if s.Namespace != customNamespace || !strings.HasPrefix(s.Name, customPrefix+"-") {
					t.Errorf("%s: subject %s/%s", key(u), s.Namespace, s.Name)
				}
			}
		case "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration":
			var c admissionregistrationv1.ValidatingWebhookConfiguration // the clientConfig is the same
			if err := convertLoose(u, &c); err != nil {
				t.Fatal(err)
			}
			for _, w := range c.Webhooks {
				if s := w.ClientConfig.Service; s == nil || s.Namespace != customNamespace || s.Name != customPrefix+"-webhook-service" {
					t.Errorf("%s webhook %s: service %v, want %s/%s-webhook-service", key(u), w.Name, s, customNamespace, customPrefix)
				}
			}
		}
	}
	ka := must[rbacv1.Role](t, objs, "Role", customPrefix+"-controller-kube-proxy")
	if ka.Namespace != "kube-system" {
		t.Errorf("kube-proxy Role in %s, want kube-system", ka.Namespace)
	}
	vap := must[admissionregistrationv1.ValidatingAdmissionPolicy](t, objs, "ValidatingAdmissionPolicy", customPrefix+"-speaker-service-owner-annotation")
	want := `"system:serviceaccount:` + customNamespace + `:` + customPrefix + `-speaker"`
	if len(vap.Spec.MatchConditions) != 1 || !strings.Contains(vap.Spec.MatchConditions[0].Expression, want) {
		t.Errorf("speaker policy matchConditions %v, want the username %s", vap.Spec.MatchConditions, want)
	}
	b := must[admissionregistrationv1.ValidatingAdmissionPolicyBinding](t, objs, "ValidatingAdmissionPolicyBinding", customPrefix+"-speaker-service-owner-annotation")
	if b.Spec.PolicyName != vap.Name {
		t.Errorf("speaker policy binding names %q, want %q", b.Spec.PolicyName, vap.Name)
	}
	must[corev1.Service](t, objs, "Service", customPrefix+"-webhook-service")
	for _, sa := range []string{"controller", "speaker"} {
		must[corev1.ServiceAccount](t, objs, "ServiceAccount", customPrefix+"-"+sa)
	}
}

// checkMetrics: a metrics Service per component, on its metrics port, and
// a ServiceMonitor that selects exactly them.
func checkMetrics(t *testing.T, objs []*unstructured.Unstructured) {
	t.Helper()
	sm := must[unstructured.Unstructured](t, objs, "ServiceMonitor", customPrefix)
	if sm.GetAPIVersion() != "monitoring.coreos.com/v1" {
		t.Errorf("ServiceMonitor apiVersion %s", sm.GetAPIVersion())
	}
	if sm.GetLabels()["release"] != "prometheus" {
		t.Errorf("ServiceMonitor labels %v, want release=prometheus", sm.GetLabels())
	}
	sel, _, _ := unstructured.NestedStringMap(sm.Object, "spec", "selector", "matchLabels")
	endpoints, _, _ := unstructured.NestedSlice(sm.Object, "spec", "endpoints")
	if len(endpoints) != 1 {
		t.Fatalf("ServiceMonitor endpoints %v", endpoints)
	}
	ep, _ := endpoints[0].(map[string]any)
	if ep["port"] != "metrics" || ep["interval"] != "15s" || ep["scrapeTimeout"] != "10s" {
		t.Errorf("ServiceMonitor endpoint %v", ep)
	}
	ns, _, _ := unstructured.NestedStringSlice(sm.Object, "spec", "namespaceSelector", "matchNames")
	if len(ns) != 1 || ns[0] != customNamespace {
		t.Errorf("ServiceMonitor namespaceSelector %v", ns)
	}
	selected := 0
	for component, port := range map[string]int32{"controller": 8080, "speaker": 17472, "keepalived": 17474} {
		svc := must[corev1.Service](t, objs, "Service", customPrefix+"-"+component+"-metrics")
		if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Port != port || svc.Spec.Ports[0].Name != "metrics" {
			t.Errorf("Service %s ports %v, want metrics %d", svc.Name, svc.Spec.Ports, port)
		}
		if svc.Spec.Selector["app.kubernetes.io/component"] != component {
			t.Errorf("Service %s selector %v", svc.Name, svc.Spec.Selector)
		}
		if labels.SelectorFromSet(sel).Matches(labels.Set(svc.Labels)) {
			selected++
		}
	}
	for _, u := range objs {
		if u.GetKind() == "Service" && labels.SelectorFromSet(sel).Matches(labels.Set(u.GetLabels())) {
			selected--
		}
	}
	if selected != 0 {
		t.Errorf("ServiceMonitor selector %v selects other Services than the three metrics ones", sel)
	}
}

func wantMap(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%s (-want +got):\n%s", what, diff)
	}
}
