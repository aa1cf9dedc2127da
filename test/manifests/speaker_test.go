package manifests_test

import (
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/sets"

	"github.com/herald-lb/herald/internal/optin"
)

// speakerCapabilities are the capabilities the speaker may add; see
// config/speaker/daemonset.yaml for which mode needs which.
var speakerCapabilities = sets.New[corev1.Capability]("NET_ADMIN", "NET_RAW", "NET_BIND_SERVICE")

// TestSpeakerPodWiring: the speaker's DaemonSet must run its pods on the
// node's network, name their node the way herald-speaker reads it, probe
// the port it serves probes on, and give it time to withdraw on SIGTERM.
func TestSpeakerPodWiring(t *testing.T) {
	r := loadRelease(t)
	w, pod := r.speaker, r.speaker.pod
	if !pod.HostNetwork {
		t.Error("hostNetwork is false: BGP sessions and ARP/NDP answers must come from the node itself")
	}
	if pod.DNSPolicy != corev1.DNSClusterFirstWithHostNet {
		t.Errorf("dnsPolicy %q: a host-network pod needs %q for the cluster's DNS", pod.DNSPolicy, corev1.DNSClusterFirstWithHostNet)
	}

	// herald-speaker reads its node's name from $NODE_NAME (or --node-name).
	if v, ok := w.args["node-name"]; ok {
		t.Errorf("--node-name=%s: leave it to $NODE_NAME, from the downward API", v)
	}
	i := slices.IndexFunc(w.container.Env, func(e corev1.EnvVar) bool { return e.Name == "NODE_NAME" })
	if i < 0 {
		t.Fatal("no NODE_NAME in the speaker's env: herald-speaker refuses to start without it")
	}
	if e := w.container.Env[i]; e.ValueFrom == nil || e.ValueFrom.FieldRef == nil || e.ValueFrom.FieldRef.FieldPath != "spec.nodeName" {
		t.Errorf("NODE_NAME is %+v, want valueFrom.fieldRef spec.nodeName", e)
	}

	// The manifest spells these flags out, so the test need not know
	// herald-speaker's defaults.
	for _, flag := range []string{"health-probe-bind-address", "metrics-bind-address", "shutdown-timeout"} {
		if _, ok := w.args[flag]; !ok {
			t.Errorf("no --%s: spell it out, so the manifest shows what the pod uses", flag)
		}
	}
	probe := flagInt(t, w, "health-probe-bind-address", 0)
	for _, p := range []struct {
		kind, path string
		probe      *corev1.Probe
	}{{"liveness", "/healthz", w.container.LivenessProbe}, {"readiness", "/readyz", w.container.ReadinessProbe}} {
		if p.probe == nil || p.probe.HTTPGet == nil {
			t.Errorf("%s probe: want an HTTP probe", p.kind)
			continue
		}
		if p.probe.HTTPGet.Path != p.path {
			t.Errorf("%s probe path %q, want %q", p.kind, p.probe.HTTPGet.Path, p.path)
		}
		if got, ok := w.resolvePort(p.probe.HTTPGet.Port); !ok || got != probe {
			t.Errorf("%s probe port %s is not --health-probe-bind-address's %d", p.kind, p.probe.HTTPGet.Port.String(), probe)
		}
	}
	if metrics := flagInt(t, w, "metrics-bind-address", 0); w.containerPort["metrics"] != metrics {
		t.Errorf("port \"metrics\" is %d, want --metrics-bind-address's %d", w.containerPort["metrics"], metrics)
	}

	stop, err := time.ParseDuration(w.args["shutdown-timeout"])
	if err != nil {
		t.Fatalf("--shutdown-timeout: %v", err)
	}
	grace := 30 * time.Second // the API server's default
	if g := pod.TerminationGracePeriodSeconds; g != nil {
		grace = time.Duration(*g) * time.Second
	}
	if grace <= stop {
		t.Errorf("terminationGracePeriodSeconds %s: the kubelet would kill the speaker within its --shutdown-timeout %s", grace, stop)
	}

	// Both commands must answer to the same class, or the controller
	// allocates addresses no speaker announces.
	class := func(w *workload) string {
		if c, ok := w.args["load-balancer-class"]; ok {
			return c
		}
		return optin.DefaultLoadBalancerClass
	}
	if c, s := class(r.controller), class(r.speaker); c != s {
		t.Errorf("controller answers to loadBalancerClass %q, speaker to %q", c, s)
	}
}

// TestSpeakerRunsEverywhere: every node may have to announce, whatever its
// taints, and the speaker must survive node pressure.
func TestSpeakerRunsEverywhere(t *testing.T) {
	r := loadRelease(t)
	pod := r.speaker.pod
	all := slices.ContainsFunc(pod.Tolerations, func(tol corev1.Toleration) bool {
		return tol.Operator == corev1.TolerationOpExists && tol.Key == "" && tol.Effect == ""
	})
	if !all {
		t.Errorf("tolerations %+v: want one that tolerates every taint (operator Exists, no key, no effect)", pod.Tolerations)
	}
	if pod.PriorityClassName != "system-node-critical" {
		t.Errorf("priorityClassName %q, want system-node-critical", pod.PriorityClassName)
	}
	if s := r.daemonSet.Spec.UpdateStrategy; s.RollingUpdate == nil || s.RollingUpdate.MaxUnavailable == nil ||
		s.RollingUpdate.MaxUnavailable.String() != "1" {
		t.Errorf("updateStrategy %+v: want RollingUpdate, one node at a time", s)
	}
}

// TestSpeakerSecurityContext: root, but with nothing beyond the capabilities
// the modes need.
func TestSpeakerSecurityContext(t *testing.T) {
	c := loadRelease(t).speaker.container
	sc := c.SecurityContext
	if sc == nil {
		t.Fatal("the speaker's container has no securityContext")
	}
	if sc.Privileged != nil && *sc.Privileged {
		t.Error("privileged: the speaker needs three capabilities, not all of them")
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Error("allowPrivilegeEscalation is not false")
	}
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Error("readOnlyRootFilesystem is not true")
	}
	if sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
		t.Fatalf("capabilities %+v: want drop ALL", sc.Capabilities)
	}
	if extra := sets.New(sc.Capabilities.Add...).Difference(speakerCapabilities); extra.Len() > 0 {
		t.Errorf("capabilities add %v beyond %v", sets.List(extra), sets.List(speakerCapabilities))
	}
	if lim := c.Resources.Limits.Memory(); lim.IsZero() {
		t.Error("no memory limit")
	}
}

// TestSpeakerPodsAreTheSpeakers: the labels keep the two workloads apart.
// A controller selector that matched speaker pods would send admission
// reviews to speakers, or count them in the controller's disruption budget.
func TestSpeakerPodsAreTheSpeakers(t *testing.T) {
	r := loadRelease(t)
	speaker, controller := labels.Set(r.speaker.labels), labels.Set(r.controller.labels)
	sel, err := metav1.LabelSelectorAsSelector(r.daemonSet.Spec.Selector)
	if err != nil || sel.Empty() || !sel.Matches(speaker) || sel.Matches(controller) {
		t.Errorf("DaemonSet selector %v (err %v) must select its pod labels %v and not the controller's %v",
			r.daemonSet.Spec.Selector, err, speaker, controller)
	}
	if sel, err := metav1.LabelSelectorAsSelector(r.deployment.Spec.Selector); err != nil || sel.Matches(speaker) {
		t.Errorf("Deployment selector %v (err %v) selects the speaker's pods", r.deployment.Spec.Selector, err)
	}
	if sel, err := metav1.LabelSelectorAsSelector(r.keepalivedSet.Spec.Selector); err != nil || sel.Matches(speaker) {
		t.Errorf("DaemonSet %s selector %v (err %v) selects the speaker's pods", r.keepalivedSet.Name, r.keepalivedSet.Spec.Selector, err)
	}
	if labels.SelectorFromSet(r.webhookSvc.Spec.Selector).Matches(speaker) {
		t.Errorf("webhook Service %s selects the speaker's pods", r.webhookSvc.Name)
	}
	for _, pdb := range ofKind[policyv1.PodDisruptionBudget](t, r.objs, "PodDisruptionBudget") {
		if sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector); err != nil || sel.Matches(speaker) {
			t.Errorf("PodDisruptionBudget %s selects the speaker's pods", pdb.Name)
		}
	}
}
