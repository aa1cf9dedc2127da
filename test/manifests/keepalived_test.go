package manifests_test

import (
	"slices"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/sets"

	"github.com/herald-lb/herald/vipdir"
)

// keepalivedCapabilities are exactly what keepalived needs: raw sockets for
// VRRP (protocol 112) and the VIPs on the interface.
var keepalivedCapabilities = sets.New[corev1.Capability]("NET_ADMIN", "NET_RAW")

// TestKeepalivedDaemonSet: VIP mode's keepalived runs on the node's network
// everywhere the speaker does, is replaced only on purpose, holds two
// capabilities and no API credentials, and stops within its grace period.
func TestKeepalivedDaemonSet(t *testing.T) {
	r := loadRelease(t)
	ds, w := r.keepalivedSet, r.keepalived
	pod := w.pod
	if !pod.HostNetwork {
		t.Error("hostNetwork is false: VRRP adverts and the VIPs belong on the node's interfaces")
	}
	if ds.Spec.UpdateStrategy.Type != appsv1.OnDeleteDaemonSetStrategyType {
		t.Errorf("updateStrategy %q: want OnDelete, so that only a deliberate pod deletion moves a node's VIPs", ds.Spec.UpdateStrategy.Type)
	}
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Error("automountServiceAccountToken is not false: herald-keepalived never talks to the API server")
	}
	if pod.PriorityClassName != r.speaker.pod.PriorityClassName || !slices.Equal(pod.Tolerations, r.speaker.pod.Tolerations) ||
		!labels.Equals(pod.NodeSelector, r.speaker.pod.NodeSelector) {
		t.Errorf("priority %q, tolerations %+v, nodeSelector %v: want the speaker's (%q, %+v, %v), so both run on the same nodes",
			pod.PriorityClassName, pod.Tolerations, pod.NodeSelector, r.speaker.pod.PriorityClassName, r.speaker.pod.Tolerations, r.speaker.pod.NodeSelector)
	}

	sc := w.container.SecurityContext
	if sc == nil || sc.Capabilities == nil {
		t.Fatal("the keepalived container has no capabilities set")
	}
	if sc.Privileged != nil && *sc.Privileged {
		t.Error("privileged: keepalived needs two capabilities, not all of them")
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Error("allowPrivilegeEscalation is not false")
	}
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Error("readOnlyRootFilesystem is not true")
	}
	if !slices.Contains(sc.Capabilities.Drop, "ALL") || !sets.New(sc.Capabilities.Add...).Equal(keepalivedCapabilities) {
		t.Errorf("capabilities %+v: want drop ALL, add exactly %v", sc.Capabilities, sets.List(keepalivedCapabilities))
	}

	stop, err := time.ParseDuration(w.args["stop-grace"])
	if err != nil {
		t.Fatalf("--stop-grace: spell it out (%v)", err)
	}
	grace := 30 * time.Second
	if g := pod.TerminationGracePeriodSeconds; g != nil {
		grace = time.Duration(*g) * time.Second
	}
	if grace <= stop {
		t.Errorf("terminationGracePeriodSeconds %s: the kubelet would kill keepalived within --stop-grace %s and leave its VIPs behind", grace, stop)
	}
	if metrics := flagInt(t, w, "metrics-bind-address", 0); w.containerPort["metrics"] != metrics {
		t.Errorf("port \"metrics\" is %d, want --metrics-bind-address's %d", w.containerPort["metrics"], metrics)
	}
	if p := w.container.LivenessProbe; p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/healthz" {
		t.Errorf("liveness probe %+v: want HTTP /healthz", p)
	}

	sel, err := metav1.LabelSelectorAsSelector(ds.Spec.Selector)
	if err != nil || !sel.Matches(labels.Set(w.labels)) || sel.Matches(labels.Set(r.speaker.labels)) || sel.Matches(labels.Set(r.controller.labels)) {
		t.Errorf("selector %v (err %v) must select its own pods only", ds.Spec.Selector, err)
	}
}

// TestVIPDirShared: the speaker renders into the directory keepalived
// reads, mounted from the same host path at the same place in both pods
// (keepalived.conf names track files and the FIFO by absolute path).
func TestVIPDirShared(t *testing.T) {
	r := loadRelease(t)
	speakerDir, ok := r.speaker.args["vip-dir"]
	if !ok {
		t.Fatal("the speaker has no --vip-dir: spell out the directory it shares with herald-keepalived")
	}
	if dir := r.keepalived.args["dir"]; dir != speakerDir {
		t.Errorf("herald-keepalived --dir=%q, speaker --vip-dir=%q: they must be the same path", dir, speakerDir)
	}
	if speakerDir != vipdir.DefaultDir {
		t.Errorf("--vip-dir=%q: the defaults of both commands are %q; keep the manifest on them", speakerDir, vipdir.DefaultDir)
	}
	hostPath := func(w *workload) string {
		for _, m := range w.container.VolumeMounts {
			if m.MountPath != speakerDir {
				continue
			}
			for _, v := range w.pod.Volumes {
				if v.Name == m.Name && v.HostPath != nil && !m.ReadOnly {
					return v.HostPath.Path
				}
			}
		}
		return ""
	}
	s, k := hostPath(r.speaker), hostPath(r.keepalived)
	if s == "" || s != k {
		t.Errorf("host paths mounted read-write at %s: speaker %q, keepalived %q; want one and the same", speakerDir, s, k)
	}
}
