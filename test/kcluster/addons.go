package kcluster

import (
	"context"
	"fmt"
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-lb/herald/test/e2e/rig"
)

// BackendPort is where the web Deployment's pods answer.
const BackendPort = 8080

// DeployKubeProxy runs kube-proxy (iptables mode) on every node as a
// DaemonSet of image, the way clusters run it: host network, privileged,
// the system:node-proxier role through its own ServiceAccount. It reaches
// the API server at the router's address (the `kubernetes` Service's
// endpoint), since the ClusterIP works only once kube-proxy runs. The
// conntrack flags of 0 leave the kernel's global conntrack settings alone.
func (c *Cluster) DeployKubeProxy(ctx context.Context, image Image) error {
	const ns, name = "kube-system", "kube-proxy"
	labels := map[string]string{"k8s-app": name}
	objs := []client.Object{
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}},
		&rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "herald-testbed:kube-proxy"},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "system:node-proxier"},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: name}},
		},
		&appsv1.DaemonSet{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels},
			Spec: appsv1.DaemonSetSpec{
				Selector: &metav1.LabelSelector{MatchLabels: labels},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: labels},
					Spec: corev1.PodSpec{
						ServiceAccountName: name,
						HostNetwork:        true,
						PriorityClassName:  "system-node-critical",
						Tolerations:        []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
						Containers: []corev1.Container{{
							Name:            name,
							Image:           image.Ref,
							ImagePullPolicy: corev1.PullNever,
							Args: []string{
								"--hostname-override=$(NODE_NAME)",
								"--proxy-mode=iptables",
								"--cluster-cidr=" + PodNetwork.String(),
								"--conntrack-max-per-core=0",
								"--conntrack-tcp-timeout-established=0",
								"--conntrack-tcp-timeout-close-wait=0",
								"--metrics-bind-address=127.0.0.1:10249",
								"--healthz-bind-address=127.0.0.1:10256",
								"--v=1",
							},
							Env: []corev1.EnvVar{
								{Name: "NODE_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.nodeName"}}},
								{Name: "KUBERNETES_SERVICE_HOST", Value: c.Router.LAN.IPv4.Addr().String()},
								{Name: "KUBERNETES_SERVICE_PORT", Value: strconv.Itoa(c.APIServerPort())},
							},
							SecurityContext: &corev1.SecurityContext{Privileged: ptr.To(true)},
						}},
					},
				},
			},
		},
	}
	for _, o := range objs {
		if err := c.Client.Create(ctx, o); err != nil {
			return fmt.Errorf("kube-proxy: create %T %s: %w", o, o.GetName(), err)
		}
	}
	return c.WaitDaemonSet(ctx, ns, name, 2*time.Minute)
}

// WaitDaemonSet waits until the DaemonSet's pods run its current
// template and are Ready on every node it wants.
func (c *Cluster) WaitDaemonSet(ctx context.Context, ns, name string, within time.Duration) error {
	return c.waitDaemonSet(ctx, ns, name, within, true)
}

// waitDaemonSet is WaitDaemonSet; without updated it accepts pods of an
// older template (an OnDelete DaemonSet's).
func (c *Cluster) waitDaemonSet(ctx context.Context, ns, name string, within time.Duration, updated bool) error {
	return rig.Eventually(ctx, within, 200*time.Millisecond, func(ctx context.Context) error {
		var ds appsv1.DaemonSet
		if err := c.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &ds); err != nil {
			return err
		}
		st := ds.Status
		if st.ObservedGeneration < ds.Generation || st.DesiredNumberScheduled != int32(len(c.nodes)) ||
			(updated && st.UpdatedNumberScheduled != st.DesiredNumberScheduled) || st.NumberReady != st.DesiredNumberScheduled {
			return fmt.Errorf("daemonset %s/%s: desired %d (of %d nodes), updated %d, ready %d, observed generation %d of %d%s",
				ns, name, st.DesiredNumberScheduled, len(c.nodes), st.UpdatedNumberScheduled, st.NumberReady,
				st.ObservedGeneration, ds.Generation, c.podProblems(ctx, ns, ds.Spec.Selector))
		}
		return nil
	})
}

// WaitDeployment waits until the Deployment's rollout is complete: every
// replica updated and available.
func (c *Cluster) WaitDeployment(ctx context.Context, ns, name string, within time.Duration) error {
	return rig.Eventually(ctx, within, 200*time.Millisecond, func(ctx context.Context) error {
		var d appsv1.Deployment
		if err := c.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &d); err != nil {
			return err
		}
		want := ptr.Deref(d.Spec.Replicas, 1)
		st := d.Status
		if st.ObservedGeneration < d.Generation || st.UpdatedReplicas != want || st.AvailableReplicas != want || st.Replicas != want {
			return fmt.Errorf("deployment %s/%s: want %d, updated %d, available %d, total %d%s",
				ns, name, want, st.UpdatedReplicas, st.AvailableReplicas, st.Replicas, c.podProblems(ctx, ns, d.Spec.Selector))
		}
		return nil
	})
}

// podProblems describes the selected pods that are not Ready, for a
// wait's error: phase, and each waiting or terminated container's reason.
func (c *Cluster) podProblems(ctx context.Context, ns string, sel *metav1.LabelSelector) string {
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return ""
	}
	var pods corev1.PodList
	if err := c.Client.List(ctx, &pods, client.InNamespace(ns), client.MatchingLabelsSelector{Selector: s}); err != nil {
		return ""
	}
	out := ""
	for _, p := range pods.Items {
		ready := false
		for _, cond := range p.Status.Conditions {
			if cond.Type == corev1.PodReady && cond.Status == corev1.ConditionTrue {
				ready = true
			}
		}
		if ready {
			continue
		}
		out += fmt.Sprintf("\n  pod %s on %q: %s", p.Name, p.Spec.NodeName, p.Status.Phase)
		for _, cs := range p.Status.ContainerStatuses {
			switch {
			case cs.State.Waiting != nil:
				out += fmt.Sprintf(", %s waiting: %s %s", cs.Name, cs.State.Waiting.Reason, cs.State.Waiting.Message)
			case cs.State.Terminated != nil:
				out += fmt.Sprintf(", %s terminated: %s (exit %d)", cs.Name, cs.State.Terminated.Reason, cs.State.Terminated.ExitCode)
			case cs.LastTerminationState.Terminated != nil:
				out += fmt.Sprintf(", %s restarted %d times, last: %s", cs.Name, cs.RestartCount, cs.LastTerminationState.Terminated.Reason)
			}
		}
		for _, cond := range p.Status.Conditions {
			if cond.Status != corev1.ConditionTrue && cond.Message != "" {
				out += fmt.Sprintf(", %s: %s", cond.Type, cond.Message)
			}
		}
	}
	return out
}

// WebDeployment is the backends of the tests' Services: replicas pods
// of the httpname image answering their own pod name on BackendPort,
// labelled app=web (hack/demo's Services select it), spread over nodes.
func WebDeployment(ns string, replicas int32, image Image) *appsv1.Deployment {
	labels := map[string]string{"app": "web"}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					AutomountServiceAccountToken:  ptr.To(false),
					TerminationGracePeriodSeconds: ptr.To[int64](2),
					TopologySpreadConstraints: []corev1.TopologySpreadConstraint{{
						MaxSkew: 1, TopologyKey: corev1.LabelHostname,
						WhenUnsatisfiable: corev1.ScheduleAnyway,
						LabelSelector:     &metav1.LabelSelector{MatchLabels: labels},
					}},
					Containers: []corev1.Container{{
						Name:            "web",
						Image:           image.Ref,
						ImagePullPolicy: corev1.PullNever,
						Args:            []string{"-listen=:" + strconv.Itoa(BackendPort), "-name=$(POD_NAME)"},
						Env: []corev1.EnvVar{{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{
							FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}}},
						Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: BackendPort}},
						ReadinessProbe: &corev1.Probe{
							ProbeHandler:  corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstrFromInt(BackendPort)}},
							PeriodSeconds: 1,
						},
					}},
				},
			},
		},
	}
}

func intstrFromInt(p int) intstr.IntOrString { return intstr.FromInt32(int32(p)) }
