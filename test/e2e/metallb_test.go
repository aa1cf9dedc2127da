package e2e

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/internal/iprange"
	"github.com/herald-lb/herald/internal/optin"
	"github.com/herald-lb/herald/test/e2e/cluster"
	"github.com/herald-lb/herald/test/e2e/rig"
)

// The MetalLB pools of TestMetalLBMigration, in ranges no other scenario
// uses: the BGP one in rig.PoolV4 (the client routes only that pool
// through the router), the layer2 one on the LAN the client shares with
// the nodes.
const (
	mlbPoolBGP     = "mlb-bgp"
	mlbRangeBGP    = "10.99.200.170-10.99.200.179"
	mlbPoolL2      = "mlb-l2"
	mlbRangeL2     = "10.99.0.246-10.99.0.249"
	mlbRequestedIP = "10.99.200.175"
)

// mlbConfig is a MetalLB configuration in the classic ConfigMap format for
// the e2e rig, as an operator running MetalLB on it would have written it:
// every node peers with the ToR from AS rig.NodeAS; pool mlb-bgp is
// announced per address and assigned by default, pool mlb-l2 answers ARP
// and is only used by Services that name it.
func mlbConfig(tor netip.Addr) string {
	return fmt.Sprintf(`apiVersion: v1
kind: ConfigMap
metadata:
  name: config
  namespace: metallb-system
data:
  config: |
    peers:
    - peer-address: %s
      peer-asn: %d
      my-asn: %d
      hold-time: 9s
    address-pools:
    - name: %s
      protocol: bgp
      addresses:
      - %s
      bgp-advertisements:
      - aggregation-length: 32
    - name: %s
      protocol: layer2
      auto-assign: false
      addresses:
      - %s
`, tor, rig.RouterAS, rig.NodeAS, mlbPoolBGP, mlbRangeBGP, mlbPoolL2, mlbRangeL2)
}

// TestMetalLBMigration is issue 13's "migrated manifests apply cleanly and
// serve traffic": a MetalLB configuration goes through `herald-controller
// migrate-metallb`, its output through `kubectl apply` and the admission
// webhooks, and Services written for MetalLB, unedited, get their
// addresses, routes, ARP answers and traffic. Both binaries run with the
// MetalLB opt-ins, as herald-config sets them for both. The cluster is
// its own: a migrating operator starts with no Herald BGP objects, and the
// migrated BgpConf "default" and ToR BgpPeer are the only ones (in
// TestBGP's cluster they would clash with its own), and the opt-ins would
// change which Services the other scenarios' cluster serves.
//
// The opt-ins off (a MetalLB-annotated Service left alone) is the envtest
// TestMetalLBOptInOff in controllers.
func TestMetalLBMigration(t *testing.T) {
	rig.SkipUnlessAvailable(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	bins, err := cluster.BuildOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	optIns := []string{"--" + optin.SettingMetalLBAnnotations, "--" + optin.SettingClasslessServices}
	c := cluster.Setup(t, cluster.Options{Binaries: bins, Webhooks: true, ControllerArgs: optIns, SpeakerArgs: optIns})
	runSteps(ctx, t, c, []step{
		{"MigratedConfigApplies", func(ctx context.Context, t *testing.T, c *cluster.Cluster) {
			testMLBApply(ctx, t, c, bins.Controller)
		}},
		{"AddressPoolLayer2", testMLBAddressPool},
		{"LoadBalancerIPsBGP", testMLBLoadBalancerIPs},
		{"ClasslessDefaultPool", testMLBClassless},
		{"SharedIPDisjointPorts", testMLBShared},
	})
}

// testMLBApply: the translation of mlbConfig, as the binary prints it,
// passes `kubectl apply` (CRD schemas and the webhooks), and every node's
// session with the migrated ToR peer comes up.
func testMLBApply(ctx context.Context, t *testing.T, c *cluster.Cluster, controller string) {
	dir := t.TempDir()
	in, out := filepath.Join(dir, "metallb-config.yaml"), filepath.Join(dir, "herald.yaml")
	if err := os.WriteFile(in, []byte(mlbConfig(c.Router.LAN.IPv4.Addr())), 0o644); err != nil {
		t.Fatal(err)
	}
	migrated, err := exec.CommandContext(ctx, controller, "migrate-metallb", "-layer2-interface", rig.LANLink, in).Output()
	if err != nil {
		t.Fatalf("herald-controller migrate-metallb: %v", stderrOf(err))
	}
	if err := os.WriteFile(out, migrated, 0o644); err != nil {
		t.Fatal(err)
	}
	kubectl, err := kubectlPath()
	if err != nil {
		t.Fatal(err)
	}
	applied, err := exec.CommandContext(ctx, kubectl, "--kubeconfig", c.Kubeconfig, "apply", "-f", out).CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl apply the migrated configuration: %v\n%s\n--- migrated:\n%s", err, applied, migrated)
	}
	t.Logf("kubectl apply:\n%s", applied)
	peer := "peer-" + strings.ReplaceAll(c.Router.LAN.IPv4.Addr().String(), ".", "-")
	for _, want := range []string{
		"bgpconf.network.kubesphere.io/" + v1alpha2.BgpConfName + " created",
		"bgppeer.network.kubesphere.io/" + peer + " created",
		"eip.network.kubesphere.io/" + mlbPoolBGP + " created",
		"eip.network.kubesphere.io/" + mlbPoolL2 + " created",
	} {
		if !strings.Contains(string(applied), want) {
			t.Errorf("kubectl apply did not say %q", want)
		}
	}
	assertEstablished(ctx, t, c, peer)
}

// stderrOf adds a failed command's standard error to its error.
func stderrOf(err error) error {
	if ee, ok := err.(*exec.ExitError); ok {
		return fmt.Errorf("%w: %s", err, ee.Stderr)
	}
	return err
}

// mlbService is a LoadBalancer Service as a MetalLB user has it: no
// loadBalancerClass, no Herald annotation, only the given MetalLB ones.
func mlbService(name string, annotations map[string]string) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: testNS, Name: name, Annotations: annotations},
		Spec: corev1.ServiceSpec{
			Type:  corev1.ServiceTypeLoadBalancer,
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(cluster.BackendPort), Protocol: corev1.ProtocolTCP}},
		},
	}
}

// createMLBService creates svc, publishes endpoints on every node and
// returns its address, which must lie in rangeStr.
func createMLBService(ctx context.Context, t *testing.T, c *cluster.Cluster, svc *corev1.Service, rangeStr string) netip.Addr {
	t.Helper()
	ip := createService(ctx, t, c, svc)
	if err := c.PublishEndpoints(ctx, svc, c.Nodes...); err != nil {
		t.Fatal(err)
	}
	r, err := iprange.Parse(rangeStr)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Contains(ip) {
		t.Fatalf("service %s got %s, want an address of %s", svc.Name, ip, rangeStr)
	}
	return ip
}

// testMLBAddressPool: metallb.io/address-pool names the migrated layer2
// Eip → an address of it, one owner, whose MAC alone answers ARP, and
// curl from the client is answered.
func testMLBAddressPool(ctx context.Context, t *testing.T, c *cluster.Cluster) {
	svc := mlbService("mlb-pool", map[string]string{v1alpha2.AnnotationMetalLBAddressPool: mlbPoolL2})
	ip := createMLBService(ctx, t, c, svc, mlbRangeL2)
	owner := waitOwner(ctx, t, c, svc)
	waitClientFollows(ctx, t, c, ip, owner)
	macs, err := arpReplies(ctx, c, ip)
	if err != nil {
		t.Fatal(err)
	}
	if len(macs) != 1 || macs[0] != owner.LAN.MAC.String() {
		t.Errorf("ARP replies for %s from %v; want only %s's %s", ip, macs, owner.Name, owner.LAN.MAC)
	}
	t.Logf("%s (pool %s) owned by %s; curls answered by %v", ip, mlbPoolL2, owner.Name, curlNames(ctx, t, c, ip, 5))
	deleteService(ctx, t, c, svc)
}

// testMLBLoadBalancerIPs: the legacy metallb.universe.tf/loadBalancerIPs
// → exactly that address, routed at the ToR via every node, and curl
// answers.
func testMLBLoadBalancerIPs(ctx context.Context, t *testing.T, c *cluster.Cluster) {
	svc := mlbService("mlb-ips", map[string]string{v1alpha2.AnnotationMetalLBLoadBalancerIPsLegacy: mlbRequestedIP})
	ip := createMLBService(ctx, t, c, svc, mlbRangeBGP)
	if ip.String() != mlbRequestedIP {
		t.Fatalf("service %s got %s, want the requested %s", svc.Name, ip, mlbRequestedIP)
	}
	waitRoute(ctx, t, c, ip, c.Nodes...)
	waitCurl(ctx, t, c, ip)
	t.Logf("%s (requested) routed via %v; curls answered by %v", ip, nodeNames(c.Nodes), curlNames(ctx, t, c, ip, 5))
	deleteService(ctx, t, c, svc)
	waitRoute(ctx, t, c, ip)
}

// testMLBClassless: a Service with no annotation and no class → an
// address of the default pool (the migrated auto-assign pool), routed and
// answered.
func testMLBClassless(ctx context.Context, t *testing.T, c *cluster.Cluster) {
	svc := mlbService("mlb-classless", nil)
	ip := createMLBService(ctx, t, c, svc, mlbRangeBGP)
	waitRoute(ctx, t, c, ip, c.Nodes...)
	waitCurl(ctx, t, c, ip)
	t.Logf("%s (default pool %s) routed via %v; curls answered by %v", ip, mlbPoolBGP, nodeNames(c.Nodes), curlNames(ctx, t, c, ip, 5))
	deleteService(ctx, t, c, svc)
	waitRoute(ctx, t, c, ip)
}

// testMLBShared: two Services with one metallb.io/allow-shared-ip key on
// disjoint ports → one address, routed once, and each port answers.
func testMLBShared(ctx context.Context, t *testing.T, c *cluster.Cluster) {
	key := map[string]string{v1alpha2.AnnotationMetalLBAllowSharedIP: "mlb-web"}
	a := mlbService("mlb-shared-a", key)
	b := mlbService("mlb-shared-b", key)
	b.Spec.Ports[0].Port = 8081
	ipA := createMLBService(ctx, t, c, a, mlbRangeBGP)
	ipB := createMLBService(ctx, t, c, b, mlbRangeBGP)
	if ipA != ipB {
		t.Fatalf("services got %s and %s; want one shared address", ipA, ipB)
	}
	waitRoute(ctx, t, c, ipA, c.Nodes...)
	for _, port := range []uint16{80, 8081} {
		url := "http://" + netip.AddrPortFrom(ipA, port).String() + "/"
		err := rig.Eventually(ctx, 20*time.Second, 100*time.Millisecond, func(ctx context.Context) error {
			_, err := c.Curl(ctx, url)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%s shared by %s (:80) and %s (:8081), both answered", ipA, a.Name, b.Name)
	deleteService(ctx, t, c, a)
	deleteService(ctx, t, c, b)
	waitRoute(ctx, t, c, ipA)
}
