package kcluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-lb/herald/internal/testenv"
	"github.com/herald-lb/herald/test/e2e/rig"
)

// pausePod is a pod of the (imported) pause image bound to node, which
// needs no scheduler; imagePullPolicy Never, as nothing can be pulled.
func (c *Cluster) pausePod(ns, name, node string, hostNetwork bool) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: corev1.PodSpec{
			NodeName:    node,
			HostNetwork: hostNetwork,
			// No token: nothing in the pod calls the API server.
			AutomountServiceAccountToken:  ptr.To(false),
			TerminationGracePeriodSeconds: ptr.To[int64](1),
			Containers: []corev1.Container{{
				Name:            "pause",
				Image:           c.Pause.Ref,
				ImagePullPolicy: corev1.PullNever,
			}},
		},
	}
}

// waitRunning waits until the pod is Running and refreshes pod.
func (c *Cluster) waitRunning(ctx context.Context, pod *corev1.Pod) error {
	return c.waitPhase(ctx, pod, corev1.PodRunning)
}

// waitPhase waits until the pod is in phase and refreshes pod.
func (c *Cluster) waitPhase(ctx context.Context, pod *corev1.Pod, phase corev1.PodPhase) error {
	err := rig.Eventually(ctx, 60*time.Second, 100*time.Millisecond, func(ctx context.Context) error {
		if err := c.Client.Get(ctx, client.ObjectKeyFromObject(pod), pod); err != nil {
			return err
		}
		if pod.Status.Phase != phase {
			return fmt.Errorf("phase %s, conditions %v, containers %v", pod.Status.Phase, pod.Status.Conditions, pod.Status.ContainerStatuses)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	return nil
}

// containerPID finds the process of the pod's first container in the
// node's cgroup root (cgroupfs driver: .../kubepods/[qos/]pod<uid>/<id>).
func (n *Node) containerPID(pod *corev1.Pod) (int, error) {
	if len(pod.Status.ContainerStatuses) == 0 {
		return 0, fmt.Errorf("pod %s: no container status", pod.Name)
	}
	_, id, ok := strings.Cut(pod.Status.ContainerStatuses[0].ContainerID, "://")
	if !ok || id == "" {
		return 0, fmt.Errorf("pod %s: container ID %q", pod.Name, pod.Status.ContainerStatuses[0].ContainerID)
	}
	dirs, err := cgroupDirs(n.cgroupName())
	if err != nil {
		return 0, err
	}
	for _, d := range dirs {
		if filepath.Base(d) != id || !strings.Contains(d, "/pod"+string(pod.UID)+"/") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(d, "cgroup.procs"))
		if err != nil {
			continue
		}
		if f := strings.Fields(string(data)); len(f) > 0 {
			return strconv.Atoi(f[0])
		}
	}
	return 0, errors.New("pod " + pod.Name + ": no process found for container " + id)
}

// Kubectl runs bin/kubectl with the admin kubeconfig, on the host, and
// returns its stdout; a failure carries stderr.
func (c *Cluster) Kubectl(ctx context.Context, args ...string) (string, error) {
	return c.KubectlTimeout(ctx, 30*time.Second, args...)
}

// KubectlTimeout is Kubectl with a bound other than 30 s.
func (c *Cluster) KubectlTimeout(ctx context.Context, timeout time.Duration, args ...string) (string, error) {
	bin, err := testenv.AssetPath("kubectl")
	if err != nil {
		return "", err
	}
	kctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(kctx, bin, append([]string{"--kubeconfig", c.Kubeconfig}, args...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}

// CreateNamespace creates namespace name and waits for its default
// ServiceAccount, which kube-controller-manager creates and without which
// the ServiceAccount admission plugin refuses the namespace's pods.
func (c *Cluster) CreateNamespace(ctx context.Context, name string) error {
	if err := c.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil {
		return fmt.Errorf("namespace %s: %w", name, err)
	}
	return rig.Eventually(ctx, 30*time.Second, 100*time.Millisecond, func(ctx context.Context) error {
		var sa corev1.ServiceAccount
		if err := c.Client.Get(ctx, client.ObjectKey{Namespace: name, Name: "default"}, &sa); err != nil {
			return fmt.Errorf("namespace %s: default ServiceAccount: %w", name, err)
		}
		return nil
	})
}
