package kcluster

import (
	"context"
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/internal/testenv"
	"github.com/herald-lb/herald/test/bench/probelog"
	"github.com/herald-lb/herald/test/e2e/rig"
)

// testbedImages are the cluster testbed's own images (`make
// testbed-images`): kube-proxy and the web backends.
type testbedImages struct{ KubeProxy, HTTPName Image }

func findTestbedImages(t *testing.T) (HeraldImages, testbedImages) {
	t.Helper()
	herald, err := FindHeraldImages()
	if err != nil {
		skipUnlessCI(t, err)
	}
	var tb testbedImages
	if tb.KubeProxy, err = FindImage("herald-kube-proxy"); err != nil {
		skipUnlessCI(t, err)
	}
	if tb.HTTPName, err = FindImage("herald-httpname"); err != nil {
		skipUnlessCI(t, err)
	}
	return herald, tb
}

// TestHerald is issue 12's suite: Kubernetes itself runs Herald. Each
// subtest is one step an operator would check, in order, on one cluster
// of two nodes with kube-proxy as a DaemonSet.
func TestHerald(t *testing.T) {
	herald, tb := findTestbedImages(t)
	c := setup(t, Options{Nodes: 2, Images: append(herald.All(), tb.KubeProxy, tb.HTTPName)})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	start := time.Now()
	if err := c.DeployKubeProxy(ctx, tb.KubeProxy); err != nil {
		t.Fatal(err)
	}
	t.Logf("kube-proxy DaemonSet ready on %d nodes (%v)", len(c.Nodes()), time.Since(start).Round(time.Millisecond))
	s := &heraldSuite{c: c, herald: herald, tb: tb}
	for _, step := range []struct {
		name string
		run  func(context.Context, *testing.T)
	}{
		{"Install", s.install},
		{"Modes", s.modes},
		{"NodeLoss", s.nodeLoss},
		{"RollingUpgrade", s.rollingUpgrade},
		{"CertRotation", s.certRotation},
		{"KubectlDelete", s.kubectlDelete},
		{"Helm", s.helm},
		{"RBAC", s.rbac},
	} {
		if !t.Run(step.name, func(t *testing.T) { step.run(ctx, t) }) {
			t.FailNow() // every step builds on the one before
		}
	}
}

type heraldSuite struct {
	c      *Cluster
	herald HeraldImages
	tb     testbedImages
	demo   string // hack/demo
	// ips are the Services' addresses by Service name (step 2).
	ips map[string]netip.Addr
	// uninstallStart is when step 5 began: from then on the RBAC objects
	// go while Herald's pods still run.
	uninstallStart time.Time
}

// install is step 1: `kubectl apply` of deploy/herald.yaml with only the
// images overridden; the pods turn Ready; the controller makes its
// webhook certificate and patches the caBundles; a bad Eip is refused
// through the webhook Service; kubectl get eip shows the pool.
func (s *heraldSuite) install(ctx context.Context, t *testing.T) {
	c := s.c
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	s.demo = filepath.Join(root, "hack", "demo")
	m, err := c.WriteManifestInstall("install", s.herald)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if out, err := c.Apply(ctx, m); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if err := c.WaitHerald(ctx, 3*time.Minute); err != nil {
		t.Fatal(err)
	}
	t.Logf("kubectl apply -k → controller and speakers Ready in %v", time.Since(start).Round(time.Millisecond))

	// The controller's certificate, in its Secret and in every caBundle.
	err = rig.Eventually(ctx, time.Minute, time.Second, func(ctx context.Context) error {
		var sec corev1.Secret
		if err := c.Client.Get(ctx, client.ObjectKey{Namespace: "herald-system", Name: "herald-webhook-certs"}, &sec); err != nil {
			return err
		}
		var vwc admissionregistrationv1.ValidatingWebhookConfiguration
		if err := c.Client.Get(ctx, client.ObjectKey{Name: "herald-validating-webhook-configuration"}, &vwc); err != nil {
			return err
		}
		for _, w := range vwc.Webhooks {
			if len(w.ClientConfig.CABundle) == 0 {
				return fmt.Errorf("validating webhook %s: no caBundle yet", w.Name)
			}
		}
		crd := &unstructured.Unstructured{}
		crd.SetGroupVersionKind(apiextensionsv1.SchemeGroupVersion.WithKind("CustomResourceDefinition"))
		if err := c.Client.Get(ctx, client.ObjectKey{Name: "eips.network.kubesphere.io"}, crd); err != nil {
			return err
		}
		if ca, _, _ := unstructured.NestedString(crd.Object, "spec", "conversion", "webhook", "clientConfig", "caBundle"); ca == "" {
			return fmt.Errorf("crd %s: no conversion caBundle yet", crd.GetName())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// A good pool, then one overlapping it: refused by the webhook,
	// reached through its Service (the API server dials the pod).
	if out, err := c.Kubectl(ctx, "apply", "-f", filepath.Join(s.demo, "bgp.yaml")); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	err = rig.Eventually(ctx, time.Minute, 500*time.Millisecond, func(ctx context.Context) error {
		out, err := c.Kubectl(ctx, "apply", "-f", filepath.Join(s.demo, "refused", "overlapping-eip.yaml"))
		if err == nil {
			_, _ = c.Kubectl(ctx, "delete", "eip", "overlapping-pool")
			return fmt.Errorf("the overlapping Eip was admitted: %s", out)
		}
		// Only the webhook knows the other pools (kubectl prints its
		// Invalid status as "The Eip ... is invalid: ...").
		if !strings.Contains(err.Error(), `overlaps Eip "demo-pool"`) {
			return err // e.g. the webhook not reachable yet: retried
		}
		t.Logf("refused as it should be: %v", err)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// v1alpha1 through the conversion webhook, as OpenELB's tools read it.
	if out, err := c.Kubectl(ctx, "get", "eips.v1alpha1.network.kubesphere.io", "demo-pool", "-o", "name"); err != nil {
		t.Errorf("get demo-pool as v1alpha1: %v\n%s", err, out)
	}
}

// modes is step 2: a Service per mode (BGP with BIRD as the ToR, Layer2,
// VIP) in front of a real Deployment answers curl from the client; the
// EndpointSlices are Kubernetes' own.
func (s *heraldSuite) modes(ctx context.Context, t *testing.T) {
	c := s.c
	tor, err := c.StartToR(ctx, c.BirdToRConfig(rig.NodeAS))
	if err != nil {
		t.Fatal(err)
	}
	_ = tor
	if err := c.Client.Create(ctx, WebDeployment("default", 2, s.tb.HTTPName)); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"service.yaml", "layer2.yaml", "vip.yaml"} {
		if out, err := c.Kubectl(ctx, "apply", "-f", filepath.Join(s.demo, f)); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
	}
	if err := c.WaitDeployment(ctx, "default", "web", 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ svc, annotation string }{
		{"web", ""},
		{"web-l2", v1alpha2.AnnotationLayer2Node},
		{"web-vip", v1alpha2.AnnotationVIPHolder},
	} {
		start := time.Now()
		var ip netip.Addr
		var names map[string]bool
		err := rig.Eventually(ctx, 2*time.Minute, 200*time.Millisecond, func(ctx context.Context) error {
			var svc corev1.Service
			if err := c.Client.Get(ctx, client.ObjectKey{Namespace: "default", Name: tc.svc}, &svc); err != nil {
				return err
			}
			if len(svc.Status.LoadBalancer.Ingress) == 0 {
				return fmt.Errorf("service %s: no address yet", tc.svc)
			}
			if tc.annotation != "" && svc.Annotations[tc.annotation] == "" {
				return fmt.Errorf("service %s: no %s yet", tc.svc, tc.annotation)
			}
			ip = netip.MustParseAddr(svc.Status.LoadBalancer.Ingress[0].IP)
			got, err := c.curl(ctx, ip)
			if err != nil {
				return err
			}
			if !strings.HasPrefix(got, "web-") {
				return fmt.Errorf("curl %s: %q, want a web pod's name", ip, got)
			}
			if names == nil {
				names = map[string]bool{}
			}
			names[got] = true
			return nil
		})
		if err != nil {
			t.Fatalf("service %s: %v", tc.svc, err)
		}
		t.Logf("service %s: %s answers curl from the client (%v), reached %v", tc.svc, ip, time.Since(start).Round(time.Millisecond), names)
		if s.ips == nil {
			s.ips = map[string]netip.Addr{}
		}
		s.ips[tc.svc] = ip
	}
	// BGP: the ToR routes the address via every node (ECMP).
	err = rig.Eventually(ctx, time.Minute, 200*time.Millisecond, func(ctx context.Context) error {
		hops, err := c.BirdRoutes(ctx, netip.PrefixFrom(s.ips["web"], 32))
		if err != nil {
			return err
		}
		if len(hops) != len(c.Nodes()) {
			return fmt.Errorf("the ToR routes %s via %v, want every node", s.ips["web"], hops)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.Kubectl(ctx, "get", "eip")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("kubectl get eip:\n%s", out)
	for _, eip := range []string{"demo-pool", "demo-l2", "demo-vip"} {
		var e v1alpha2.Eip
		if err := c.Client.Get(ctx, client.ObjectKey{Name: eip}, &e); err != nil {
			t.Fatal(err)
		}
		if e.Status.Usage != 1 {
			t.Errorf("eip %s: usage %d, want 1 (%s)", eip, e.Status.Usage, out)
		}
	}
}

// rollingUpgrade is step 4: the same manifest with every image under a
// new tag (one build, two names, so every pod is replaced): the speakers
// roll node by node and the controller's replicas one by one. BGP
// graceful restart keeps the route at the router untouched (zero route
// events); the Layer2 and VIP Services keep answering a probe every
// 10 ms (failed probes are reported); the controller's leadership moves
// to a new replica. herald-keepalived updates OnDelete by design, so its
// pods stay.
func (s *heraldSuite) rollingUpgrade(ctx context.Context, t *testing.T) {
	c := s.c
	next, err := c.Retag(ctx, s.herald, "rollout")
	if err != nil {
		t.Fatal(err)
	}
	holder := func() string {
		var l coordinationv1.Lease
		if err := c.Client.Get(ctx, client.ObjectKey{Namespace: "herald-system", Name: "herald-controller"}, &l); err != nil {
			t.Fatal(err)
		}
		return ptr.Deref(l.Spec.HolderIdentity, "")
	}
	leaderBefore := holder()

	bgp := netip.PrefixFrom(s.ips["web"], 32)
	wctx, stopWatch := context.WithCancel(ctx)
	events, err := c.WatchRoutes(wctx, c.Router.NS)
	if err != nil {
		t.Fatal(err)
	}
	var routeEvents []rig.RouteEvent
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		for ev := range events {
			if ev.Dst == bgp {
				routeEvents = append(routeEvents, ev)
			}
		}
	}()
	probes := map[string]*rig.Proc{}
	for _, svc := range []string{"web", "web-l2", "web-vip"} {
		p, err := c.StartProbe(ctx, "probe-upgrade-"+svc, s.ips[svc], 10*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		probes[svc] = p
	}

	m, err := c.WriteManifestInstall("upgrade", next)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if out, err := c.Apply(ctx, m); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if err := c.WaitHerald(ctx, 5*time.Minute); err != nil {
		t.Fatal(err)
	}
	rolled := time.Since(start)
	// The new speakers have announced everything once: every Service
	// answers again through them.
	if err := c.WaitHeraldReady(ctx, s.ips); err != nil {
		t.Fatal(err)
	}
	stopWatch()
	<-watched
	for _, svc := range []string{"web", "web-l2", "web-vip"} {
		got, err := StopProbe(probes[svc])
		if err != nil {
			t.Fatal(err)
		}
		failed, sent := probelog.Failed(got, start, time.Now())
		gap, _ := probelog.Outage(got, start, time.Now())
		t.Logf("service %s during the rollout (%v): %d of %d probes failed; longest time between answers %v",
			svc, rolled.Round(time.Millisecond), failed, sent, gap.D.Round(time.Millisecond))
		if sent == 0 || failed == sent {
			t.Errorf("service %s: no probe answered during the rollout", svc)
		}
	}
	t.Logf("route events for %s at the router during the rollout: %d", bgp, len(routeEvents))
	for _, ev := range routeEvents {
		t.Errorf("route event at the router despite graceful restart: %+v", ev)
	}
	err = rig.Eventually(ctx, time.Minute, time.Second, func(ctx context.Context) error {
		// controller-runtime's identity: <pod name>_<random>.
		after, _, _ := strings.Cut(holder(), "_")
		var pod corev1.Pod
		if err := c.Client.Get(ctx, client.ObjectKey{Namespace: "herald-system", Name: after}, &pod); err != nil {
			return fmt.Errorf("leader %q: %w", after, err)
		}
		if pod.Spec.Containers[0].Image != next.Controller.Ref {
			return fmt.Errorf("leader %s runs %s, want %s", after, pod.Spec.Containers[0].Image, next.Controller.Ref)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("controller leadership: %s → %s", leaderBefore, holder())
	s.herald = next
}

// rbac is step 7: the audit log of the whole suite holds no request of
// Herald's service accounts that the API server refused as forbidden, up
// to the uninstalls (which delete the RBAC objects while the pods still
// run: those refusals are reported, not failed).
func (s *heraldSuite) rbac(ctx context.Context, t *testing.T) {
	forbidden, total, late, err := s.c.ForbiddenRequests(s.uninstallStart)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("audit log: %d requests of Herald's service accounts before the uninstalls, %d forbidden; %d forbidden during the uninstalls (RBAC deleted before the pods stopped): %v",
		total, len(forbidden), len(late), late)
	if total == 0 {
		t.Error("the audit log holds no request of Herald's service accounts")
	}
	for _, f := range forbidden {
		t.Errorf("forbidden: %s", f)
	}
}

// nodeLoss is step 3: the switch port of the node that answers the Layer2
// Service goes down (its loopback path to the API server too, as the
// kubelet's would on a real node), with every Service probed every 10 ms.
// Each Service must answer every probe again within a generous bound; the
// note's figures are per mode: the load balancer's own failover (the
// first answer after the cut: another node took the address or the route)
// and Kubernetes' endpoint removal (the dead node's backend marked not
// ready, after which no probe fails), measured apart. Then the port comes
// back and the cluster heals.
func (s *heraldSuite) nodeLoss(ctx context.Context, t *testing.T) {
	c := s.c
	var l2 corev1.Service
	if err := c.Client.Get(ctx, client.ObjectKey{Namespace: "default", Name: "web-l2"}, &l2); err != nil {
		t.Fatal(err)
	}
	var victim *Node
	for _, n := range c.Nodes() {
		if n.Name == l2.Annotations[v1alpha2.AnnotationLayer2Node] {
			victim = n
		}
	}
	if victim == nil {
		t.Fatalf("service web-l2: owner %q is no node", l2.Annotations[v1alpha2.AnnotationLayer2Node])
	}
	var vip corev1.Service
	if err := c.Client.Get(ctx, client.ObjectKey{Namespace: "default", Name: "web-vip"}, &vip); err != nil {
		t.Fatal(err)
	}
	vipHolder := vip.Annotations[v1alpha2.AnnotationVIPHolder]
	// BGP's failover is the router dropping the victim's next hop.
	bgp := netip.PrefixFrom(s.ips["web"], 32)
	wctx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	events, err := c.WatchRoutes(wctx, c.Router.NS)
	if err != nil {
		t.Fatal(err)
	}
	hopGone := make(chan time.Time, 1)
	go func() {
		for ev := range events {
			if ev.Dst == bgp && (ev.Deleted || !slices.Contains(ev.Gateways, victim.LAN.IPv4.Addr())) {
				select {
				case hopGone <- ev.At:
				default:
				}
			}
		}
	}()
	probes := map[string]*rig.Proc{}
	for _, svc := range []string{"web", "web-l2", "web-vip"} {
		p, err := c.StartProbe(ctx, "probe-nodeloss-"+svc, s.ips[svc], 10*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		probes[svc] = p
	}
	cut := time.Now()
	if err := c.CutNode(victim); err != nil {
		t.Fatal(err)
	}
	t.Logf("node %s cut off (switch port down, API server unreachable)", victim.Name)
	restored := false
	defer func() {
		if !restored {
			if err := c.RestoreNode(ctx, victim); err != nil {
				t.Error(err)
			}
		}
	}()
	// Kubernetes' endpoint removal: the victim's backend not ready.
	var removed time.Duration
	err = rig.Eventually(ctx, 2*time.Minute, 100*time.Millisecond, func(ctx context.Context) error {
		ready, err := c.readyEndpointNodes(ctx, "default", "web")
		if err != nil {
			return err
		}
		if ready[victim.Name] {
			return fmt.Errorf("the backend on %s is still ready", victim.Name)
		}
		removed = time.Since(cut)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Every Service answers again, every probe, for a second.
	for svc, p := range probes {
		if err := probelog.Wait(ctx, p, 2*time.Minute, probelog.OKRun(cut.Add(removed), 100)); err != nil {
			t.Fatalf("service %s after node %s's loss: %v", svc, victim.Name, err)
		}
	}
	end := time.Now()
	// The router drops a silent node's next hop when the hold timer (9 s
	// in hack/demo/bgp.yaml) expires; BFD (issue 13) would cut that.
	var hopGoneAt time.Time
	select {
	case hopGoneAt = <-hopGone:
	case <-time.After(time.Minute):
		t.Errorf("the router still routes %s via %s a minute after the cut", bgp, victim.Name)
	case <-ctx.Done():
	}
	t.Logf("Kubernetes' endpoint removal: the backend on %s not ready %v after the cut", victim.Name, removed.Round(time.Millisecond))
	for _, svc := range []string{"web", "web-l2", "web-vip"} {
		got, err := StopProbe(probes[svc])
		if err != nil {
			t.Fatal(err)
		}
		first, _ := probelog.First(got, cut, func(p probelog.HTTP) bool { return p.OK })
		// Only until the recovery: later, a client port that an old,
		// unanswered connection still holds in the node's conntrack
		// table (DNATed to the dead backend) fails a probe now and then.
		var lastFail time.Time
		for _, p := range got {
			if !p.OK && p.Sent.After(cut) && p.Sent.Before(end) && p.Sent.After(lastFail) {
				lastFail = p.Sent
			}
		}
		failed, sent := probelog.Failed(got, cut, end)
		since := func(at time.Time) string {
			if at.IsZero() {
				return "never"
			}
			return at.Sub(cut).Round(time.Millisecond).String()
		}
		failover := "first answer after the cut " + since(first.Done)
		switch {
		case svc == "web":
			failover = "the router dropped " + victim.Name + "'s next hop " + since(hopGoneAt)
		case svc == "web-vip" && vipHolder != victim.Name:
			failover = "none needed (held by " + vipHolder + ")"
		}
		t.Logf("service %s: load balancer failover: %s; last failed probe %s after the cut (endpoint removal at %v); %d of %d probes failed",
			svc, failover, since(lastFail), removed.Round(time.Millisecond), failed, sent)
	}
	if err := c.RestoreNode(ctx, victim); err != nil {
		t.Fatal(err)
	}
	restored = true
	if err := c.WaitHeraldReady(ctx, s.ips); err != nil {
		t.Fatal(err)
	}
}

// certRotation is step 6: the controller's certificate timings set short
// (serving certificates live 40 s and are replaced at half-life, the CA
// lives 2 min), the webhook's serving certificate and its CA rotate inside
// the running pods while admission (a dry-run Eip create, which both
// replicas may serve) and conversion (a v1alpha1 read) are exercised
// every second: none may fail.
func (s *heraldSuite) certRotation(ctx context.Context, t *testing.T) {
	c := s.c
	m, err := c.WriteManifestInstall("rotation", s.herald)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.ControllerArgs("--webhook-ca-validity=2m", "--webhook-cert-validity=40s",
		"--webhook-cert-refresh-fraction=0.5", "--webhook-ca-propagation-delay=10s", "--webhook-cert-check-interval=2s"); err != nil {
		t.Fatal(err)
	}
	if out, err := c.Apply(ctx, m); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if err := c.WaitHerald(ctx, 3*time.Minute); err != nil {
		t.Fatal(err)
	}
	certs := map[string]bool{}
	cas := map[string]bool{}
	var calls, failures int
	start := time.Now()
	// Until a CA rotation and two more serving certificates were seen.
	err = rig.Eventually(ctx, 4*time.Minute, time.Second, func(ctx context.Context) error {
		var sec corev1.Secret
		if err := c.Client.Get(ctx, client.ObjectKey{Namespace: "herald-system", Name: "herald-webhook-certs"}, &sec); err != nil {
			return err
		}
		certs[string(sec.Data[corev1.TLSCertKey])] = true
		cas[string(sec.Data["ca.crt"])] = true
		calls++
		probe := &v1alpha2.Eip{
			ObjectMeta: metav1.ObjectMeta{Name: "rotation-probe"},
			Spec:       v1alpha2.EipSpec{Address: "10.99.201.0/28", Protocol: v1alpha2.ProtocolBGP},
		}
		if err := c.Client.Create(ctx, probe, client.DryRunAll); err != nil {
			failures++
			t.Errorf("admission during the rotation (%v in): %v", time.Since(start).Round(time.Millisecond), err)
		}
		old := &unstructured.Unstructured{}
		old.SetGroupVersionKind(schema.GroupVersionKind{Group: v1alpha2.GroupVersion.Group, Version: "v1alpha1", Kind: "Eip"})
		if err := c.Client.Get(ctx, client.ObjectKey{Name: "demo-pool"}, old); err != nil {
			failures++
			t.Errorf("conversion during the rotation (%v in): %v", time.Since(start).Round(time.Millisecond), err)
		}
		if len(cas) < 2 || len(certs) < 3 {
			return fmt.Errorf("seen %d CAs and %d serving certificates", len(cas), len(certs))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("in %v: %d CAs and %d serving certificates in the Secret; %d admission and %d conversion calls, %d failed",
		time.Since(start).Round(time.Millisecond), len(cas), len(certs), calls, calls, failures)
}

// kubectlDelete is step 5's first half, in the README's order: the
// LoadBalancer Services go first while Herald runs (their Eips then drop
// their finalizer: nothing holds an address), then `kubectl delete -k` of
// the last install. kubectl waits for every object to go: nothing may stay
// Terminating (namespace, CRDs and with them the Eips). No VIP may stay on
// a node and no route at the router. (Uninstalling with the Services still
// there is the Helm half's case: `kubectl delete -f` removes the RBAC
// objects while the pods still run, so the speakers could not read their
// DaemonSet at SIGTERM, nor the controller release an Eip.)
func (s *heraldSuite) kubectlDelete(ctx context.Context, t *testing.T) {
	c := s.c
	s.uninstallStart = time.Now()
	for svc := range s.ips {
		if err := c.Client.Delete(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: svc}}); err != nil {
			t.Fatal(err)
		}
	}
	err := rig.Eventually(ctx, time.Minute, 500*time.Millisecond, func(ctx context.Context) error {
		var eips v1alpha2.EipList
		if err := c.Client.List(ctx, &eips); err != nil {
			return err
		}
		for _, e := range eips.Items {
			if len(e.Finalizers) > 0 || e.Status.Usage > 0 {
				return fmt.Errorf("eip %s: usage %d, finalizers %v", e.Name, e.Status.Usage, e.Finalizers)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if out, err := c.KubectlTimeout(ctx, 4*time.Minute, "delete", "-k", filepath.Join(c.StateDir, "rotation"), "--timeout=3m"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	t.Logf("kubectl delete -k: every object gone in %v", time.Since(start).Round(time.Millisecond))
	s.checkUninstalled(ctx, t, false)
}

// checkUninstalled checks what an uninstall leaves: no Herald pod, no
// VIP on a node, no route at the router, the Services untouched; the Eips
// gone with their CRD, or (crdsKept, Helm's keep policy) still there and
// not Terminating.
func (s *heraldSuite) checkUninstalled(ctx context.Context, t *testing.T, crdsKept bool) {
	c := s.c
	start := time.Now()
	// Well below the 30 s graceful-restart time of hack/demo/bgp.yaml: a
	// route still there by then was kept, not withdrawn.
	err := rig.Eventually(ctx, 20*time.Second, 200*time.Millisecond, func(ctx context.Context) error {
		var pods corev1.PodList
		if err := c.Client.List(ctx, &pods, client.InNamespace("herald-system")); err != nil {
			return err
		}
		if len(pods.Items) > 0 {
			return fmt.Errorf("%d pods left in herald-system, e.g. %s", len(pods.Items), pods.Items[0].Name)
		}
		left, err := c.Leftovers(ctx, s.ips["web"], s.ips["web-vip"])
		if err != nil {
			return err
		}
		if len(left) > 0 {
			return fmt.Errorf("left behind: %v", left)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("no Herald pod, VIP or route left %v after the uninstall command returned", time.Since(start).Round(time.Millisecond))
	var svcs corev1.ServiceList
	if err := c.Client.List(ctx, &svcs, client.InNamespace("default")); err != nil {
		t.Fatal(err)
	}
	for _, svc := range svcs.Items {
		if svc.DeletionTimestamp != nil {
			t.Errorf("service %s is Terminating after the uninstall", svc.Name)
		}
	}
	var eips v1alpha2.EipList
	err = c.Client.List(ctx, &eips)
	switch {
	case !crdsKept && err == nil:
		t.Errorf("the Eip API is still served after the uninstall (%d Eips)", len(eips.Items))
	case crdsKept && err != nil:
		t.Errorf("Eips after helm uninstall: %v", err)
	case crdsKept:
		for _, e := range eips.Items {
			if e.DeletionTimestamp != nil {
				t.Errorf("eip %s is Terminating after helm uninstall", e.Name)
			}
		}
		t.Logf("%d Eips kept with their CRD (the chart's keep policy)", len(eips.Items))
	}
}

// helm is step 5's second half, on the cluster kubectl delete left (no
// Herald, no CRD): `helm install` of the chart with only the image tag
// set; the demo's Eips and Services again; every Service answers. `helm
// upgrade` with a changed value (one controller replica) rolls out and
// traffic stays. `helm uninstall` with the Services still there leaves no
// pod, no VIP on a node and no route at the router (the speakers see
// their DaemonSet deleted and withdraw, graceful restart
// notwithstanding), and keeps the CRDs and Eips (the chart's keep
// policy), none Terminating, the Services untouched.
func (s *heraldSuite) helm(ctx context.Context, t *testing.T) {
	c := s.c
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	chart := filepath.Join(root, "deploy", "charts", "herald")
	start := time.Now()
	if err := c.InstallChart(ctx, s.herald); err != nil {
		t.Fatal(err)
	}
	t.Logf("helm install: Herald Ready in %v", time.Since(start).Round(time.Millisecond))
	for _, f := range []string{"bgp.yaml", "service.yaml", "layer2.yaml", "vip.yaml"} {
		err := rig.Eventually(ctx, time.Minute, time.Second, func(ctx context.Context) error {
			_, err := c.Kubectl(ctx, "apply", "-f", filepath.Join(s.demo, f))
			return err // the webhook may need a moment for its certificate
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := c.WaitHeraldReady(ctx, s.ips); err != nil {
		t.Fatal(err)
	}
	if out, err := c.Helm(ctx, "upgrade", "herald", chart, "-n", "herald-system", "--reuse-values",
		"--set", "controller.replicas=1", "--wait", "--timeout", "3m"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if err := c.WaitHerald(ctx, 3*time.Minute); err != nil {
		t.Fatal(err)
	}
	var d appsv1.Deployment
	if err := c.Client.Get(ctx, client.ObjectKey{Namespace: "herald-system", Name: "herald-controller-manager"}, &d); err != nil {
		t.Fatal(err)
	}
	if got := ptr.Deref(d.Spec.Replicas, 0); got != 1 {
		t.Errorf("after helm upgrade --set controller.replicas=1: %d replicas", got)
	}
	if err := c.WaitHeraldReady(ctx, s.ips); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	if out, err := c.Helm(ctx, "uninstall", "herald", "-n", "herald-system", "--wait", "--timeout", "3m"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	t.Logf("helm uninstall in %v", time.Since(start).Round(time.Millisecond))
	s.checkUninstalled(ctx, t, true)
}
