package kcluster

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/herald-lb/herald/test/e2e/rig"
)

func TestMain(m *testing.M) {
	ctrl.SetLogger(logr.Discard())
	// Before rig.Main's sweep: a crashed run's containers sit in pod
	// network namespaces that sweep does not reach.
	if rig.Available() == nil {
		if err := CleanupStale(); err != nil {
			fmt.Fprintln(os.Stderr, "kcluster: clean up after a crashed run:", err)
			os.Exit(1)
		}
	}
	os.Exit(rig.Main(m))
}

// skipUnlessCI skips (loudly) for a missing build or image, which `make
// test` as root provides (e2e-deps) but a narrower run may lack; under CI
// (CI set), where they must be there, it fails instead.
func skipUnlessCI(t *testing.T, err error) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("%v (CI is set: the cluster testbed must run)", err)
	}
	t.Skipf("SKIPPING %s: %v", t.Name(), err)
}

// setup brings a cluster up for one test and down when it ends; it skips
// (loudly) without root or without the builds and images.
func setup(t *testing.T, opts Options) *Cluster {
	t.Helper()
	rig.SkipUnlessAvailable(t)
	if _, err := FindBinaries(); err != nil {
		skipUnlessCI(t, err)
	}
	if _, err := FindImage("herald-pause"); err != nil {
		skipUnlessCI(t, err)
	}
	opts.Logf = t.Logf
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c, err := Up(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			c.DumpLogs(t.Logf, 40)
		}
		if err := c.Down(); err != nil {
			t.Errorf("cluster down: %v", err)
		}
		if t.Failed() {
			t.Logf("state kept in %s", c.StateDir)
			return
		}
		if err := os.RemoveAll(c.StateDir); err != nil {
			t.Errorf("remove state dir: %v", err)
		}
	})
	return c
}

// TestOneNode is the first proof of the cluster testbed: one real kubelet
// with containerd in a rig namespace registers its Node, which turns
// Ready; a pod on the pod network gets an address from the node's CNI
// range and is reachable from the node; a hostNetwork pod's process lives
// in the node's own network namespace; and Down leaves nothing behind.
func TestOneNode(t *testing.T) {
	controller, err := FindImage("herald-controller")
	if err != nil {
		skipUnlessCI(t, err)
	}
	c := setup(t, Options{Nodes: 1, Images: []Image{controller}})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	n := c.Nodes()[0]

	// The imported images are in the namespace the CRI uses.
	refs, err := n.Images(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{c.Pause.Ref, controller.Ref} {
		if !slices.Contains(refs, want) {
			t.Errorf("node %s: image %s not in containerd's k8s.io namespace: %v", n.Name, want, refs)
		}
	}

	const ns = "kcluster"
	if err := c.CreateNamespace(ctx, ns); err != nil {
		t.Fatal(err)
	}
	podNet := c.pausePod(ns, "podnet", n.Name, false)
	hostNet := c.pausePod(ns, "hostnet", n.Name, true)
	// A Secret volume: the kubelet mounts a tmpfs under its root dir, runc
	// bind-mounts it into the container. Only if both share one mount
	// namespace does the container see the files (else an empty dir).
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "token", Namespace: ns},
		StringData: map[string]string{"token": "kcluster-secret"},
	}
	if err := c.Client.Create(ctx, secret); err != nil {
		t.Fatalf("create secret: %v", err)
	}
	withVol := c.pausePod(ns, "secretvol", n.Name, false)
	withVol.Spec.Volumes = []corev1.Volume{{Name: "token", VolumeSource: corev1.VolumeSource{
		Secret: &corev1.SecretVolumeSource{SecretName: secret.Name},
	}}}
	withVol.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "token", MountPath: "/etc/token", ReadOnly: true}}
	for _, p := range []*corev1.Pod{podNet, hostNet, withVol} {
		if err := c.Client.Create(ctx, p); err != nil {
			t.Fatalf("create pod %s: %v", p.Name, err)
		}
	}
	for _, p := range []*corev1.Pod{podNet, hostNet, withVol} {
		if err := c.waitRunning(ctx, p); err != nil {
			t.Fatalf("%v\nkubelet.log:\n%s\ncontainerd.log:\n%s", err, n.Log("kubelet", 40), n.Log("containerd", 20))
		}
	}

	// The pod network: an address from the node's range, reachable from
	// the node over the CNI bridge.
	ip, err := netip.ParseAddr(podNet.Status.PodIP)
	if err != nil || !n.PodCIDR.Contains(ip) {
		t.Fatalf("pod %s: IP %q not in the node's pod CIDR %s (%v)", podNet.Name, podNet.Status.PodIP, n.PodCIDR, err)
	}
	if err := c.Ping(ctx, n.NS, ip); err != nil {
		t.Errorf("ping pod %s at %s from node %s: %v", podNet.Name, ip, n.Name, err)
	}

	// Which network namespace each pod's process is in.
	nodeNet, err := nsInode("/run/netns/" + n.NS)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		pod      *corev1.Pod
		sameAsNS bool
	}{{podNet, false}, {hostNet, true}} {
		pid, err := n.containerPID(tc.pod)
		if err != nil {
			t.Fatal(err)
		}
		got, err := nsInode(fmt.Sprintf("/proc/%d/ns/net", pid))
		if err != nil {
			t.Fatal(err)
		}
		if (got == nodeNet) != tc.sameAsNS {
			t.Errorf("pod %s (pid %d): network namespace %d, node's %d, want same=%v", tc.pod.Name, pid, got, nodeNet, tc.sameAsNS)
		}
		if tc.sameAsNS {
			// It sees the node's interfaces: eth0 on the rig's LAN.
			dev, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/dev", pid))
			if err != nil || !strings.Contains(string(dev), rig.LANLink+":") {
				t.Errorf("pod %s: %s not among its interfaces (%v):\n%s", tc.pod.Name, rig.LANLink, err, dev)
			}
		}
	}
	// The container's view of its root, read through /proc/<pid>/root.
	pid, err := n.containerPID(withVol)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(fmt.Sprintf("/proc/%d/root/etc/token/token", pid)); err != nil || string(got) != "kcluster-secret" {
		t.Errorf("pod %s: /etc/token/token in the container = %q, %v; want the Secret's value", withVol.Name, got, err)
	}
	if hostNet.Status.PodIP != n.LAN.IPv4.Addr().String() {
		t.Errorf("pod %s: IP %q, want the node's %s", hostNet.Name, hostNet.Status.PodIP, n.LAN.IPv4.Addr())
	}
	t.Logf("pods Running: %s at %s (pod network), %s at %s (node's network)", podNet.Name, podNet.Status.PodIP, hostNet.Name, hostNet.Status.PodIP)

	// The API server reaches the kubelet (egress proxy and relay): logs of
	// a finished pod, and exec into a running one, as an operator would.
	once := c.pausePod(ns, "once", n.Name, false)
	once.Spec.RestartPolicy = corev1.RestartPolicyNever
	once.Spec.Containers[0].Args = []string{"-v"} // prints its name, exits 0
	if err := c.Client.Create(ctx, once); err != nil {
		t.Fatalf("create pod %s: %v", once.Name, err)
	}
	if err := c.waitPhase(ctx, once, corev1.PodSucceeded); err != nil {
		t.Fatal(err)
	}
	if out, err := c.Kubectl(ctx, "logs", "-n", ns, once.Name); err != nil || strings.TrimSpace(out) != "herald-pause" {
		t.Errorf("kubectl logs %s: %q, %v; want herald-pause", once.Name, out, err)
	}
	if out, err := c.Kubectl(ctx, "exec", "-n", ns, podNet.Name, "--", "/pause", "-v"); err != nil || strings.TrimSpace(out) != "herald-pause" {
		t.Errorf("kubectl exec %s: %q, %v; want herald-pause", podNet.Name, out, err)
	}
}

// nsInode identifies the network namespace at path (a /run/netns bind
// mount or /proc/<pid>/ns/net) by its inode.
func nsInode(path string) (uint64, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return 0, fmt.Errorf("namespace %s: %w", path, err)
	}
	return st.Ino, nil
}

// TestTwoNodes: two kubelets side by side, each with its own containerd,
// root dir, cgroup root, ports (in its own namespace) and pod range; a pod
// on each node is reachable from the other node over the harness's pod
// routes.
func TestTwoNodes(t *testing.T) {
	c := setup(t, Options{Nodes: 2})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	const ns = "kcluster"
	if err := c.CreateNamespace(ctx, ns); err != nil {
		t.Fatal(err)
	}
	nodes := c.Nodes()
	var pods []*corev1.Pod
	for _, n := range nodes {
		p := c.pausePod(ns, "on-"+n.Name, n.Name, false)
		if err := c.Client.Create(ctx, p); err != nil {
			t.Fatalf("create pod %s: %v", p.Name, err)
		}
		pods = append(pods, p)
	}
	for i, p := range pods {
		if err := c.waitRunning(ctx, p); err != nil {
			t.Fatal(err)
		}
		ip, err := netip.ParseAddr(p.Status.PodIP)
		if err != nil || !nodes[i].PodCIDR.Contains(ip) {
			t.Fatalf("pod %s: IP %q not in %s's pod CIDR %s", p.Name, p.Status.PodIP, nodes[i].Name, nodes[i].PodCIDR)
		}
		other := nodes[(i+1)%len(nodes)]
		if err := c.Ping(ctx, other.NS, ip); err != nil {
			t.Errorf("ping pod %s (%s, on %s) from %s: %v", p.Name, ip, nodes[i].Name, other.Name, err)
		}
	}
}
