package speaker

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/controllers"
	"github.com/herald-lb/herald/internal/testenv"
)

// poolViewClass keeps the controller this test runs away from the Services
// other speaker tests leave behind.
const poolViewClass = "herald.io/pool-view-test"

// TestSpeakerAnnouncesFromTheControllersPool runs the controller and the
// speaker's gather and Compute against one API server, with two
// overlapping Eips of different protocols that admission would have
// refused (envtest runs no webhook, like a cluster whose webhook was down).
// The older Eip counts on both sides: the address the controller hands out
// is announced in that Eip's mode, under that Eip's name, on every
// reconcile. The newer Eip's name sorts first, so neither name order nor
// list order can pass for the rule.
func TestSpeakerAnnouncesFromTheControllersPool(t *testing.T) {
	bgp := func(name string) *v1alpha2.Eip {
		return &v1alpha2.Eip{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1alpha2.EipSpec{Address: "192.0.2.0/24", Protocol: v1alpha2.ProtocolBGP}}
	}
	layer2 := func(name string) *v1alpha2.Eip {
		return &v1alpha2.Eip{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1alpha2.EipSpec{Address: "192.0.2.0/28", Protocol: v1alpha2.ProtocolLayer2, Interface: "eth0"}}
	}
	tests := []struct {
		name         string
		older, newer *v1alpha2.Eip
	}{
		{"older bgp, newer layer2", bgp("zz-view-bgp"), layer2("aa-view-l2")},
		{"older layer2, newer bgp", layer2("zz-view-l2"), bgp("aa-view-bgp")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			startPoolViewController(t)
			reader := startSpeakerCache(t, "view-node")

			createEipCleaned(t, tt.older)
			// Creation timestamps have a resolution of one second: make
			// sure the newer Eip is younger, not a tie broken by name.
			testenv.Eventually(t, 3*time.Second, func() error {
				if !time.Now().After(tt.older.CreationTimestamp.Add(time.Second)) {
					return fmt.Errorf("same second as %s's creation", tt.older.Name)
				}
				return nil
			})
			createEipCleaned(t, tt.newer)

			ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "view-"}}
			create(t, ns)
			svc := &corev1.Service{
				ObjectMeta: metav1.ObjectMeta{Namespace: ns.Name, Name: "web", Annotations: map[string]string{
					// Inside both Eips: only the rule decides between them.
					v1alpha2.AnnotationRequestedIP: "192.0.2.3",
				}},
				Spec: corev1.ServiceSpec{
					Type:                          corev1.ServiceTypeLoadBalancer,
					LoadBalancerClass:             ptr.To(poolViewClass),
					Ports:                         []corev1.ServicePort{{Port: 80, Protocol: corev1.ProtocolTCP}},
					Selector:                      map[string]string{"app": "web"},
					AllocateLoadBalancerNodePorts: ptr.To(false),
				},
			}
			create(t, svc)
			t.Cleanup(func() { deleteAndWait(t, svc) })

			ip := netip.MustParseAddr("192.0.2.3")
			var from v1alpha2.Eip
			testenv.Eventually(t, 15*time.Second, func() error {
				var err error
				from, err = eipHolding(ctx, ip)
				return err
			})
			if from.Name != tt.older.Name {
				t.Fatalf("controller allocated %s from Eip %q, want the older %q", ip, from.Name, tt.older.Name)
			}

			// Wait until the speaker's cache has the address, then check
			// many reconciles: the cache lists in no fixed order.
			testenv.Eventually(t, 15*time.Second, func() error {
				snap, err := gather(ctx, reader, nil, "view-node", poolViewClass)
				if err != nil {
					return err
				}
				for _, s := range snap.Services {
					if s.Key == ns.Name+"/web" && slices.Contains(s.Addrs, ip) {
						return nil
					}
				}
				return fmt.Errorf("speaker cache has no address on %s/web yet", ns.Name)
			})
			for i := range 50 {
				snap, err := gather(ctx, reader, nil, "view-node", poolViewClass)
				if err != nil {
					t.Fatal(err)
				}
				d := Compute("view-node", snap.Pools, snap.Services, snap.ServiceCIDRs)
				if got, want := announcedAs(d, ip), wantAnnounced(&from); got != want {
					t.Fatalf("reconcile %d: speaker announces %s as %s, want %s (as the Eip the controller allocated from, %q)",
						i, ip, got, want, from.Name)
				}
			}
		})
	}
}

// announcedAs lists every way d announces ip: "layer2 <eip>" for each
// Layer2 claim, "bgp" for a load-balancer route (routes do not name their
// Eip), and the reason when it is skipped.
func announcedAs(d Desired, ip netip.Addr) string {
	var ways []string
	for _, c := range d.Layer2 {
		if c.IP == ip {
			ways = append(ways, v1alpha2.ProtocolLayer2+" "+c.Eip)
		}
	}
	for _, r := range d.BGP {
		if r.Prefix == host(ip) && r.Kind == RouteLoadBalancer {
			ways = append(ways, v1alpha2.ProtocolBGP)
		}
	}
	if reason, ok := d.Skipped[ip]; ok {
		ways = append(ways, "skipped: "+reason)
	}
	return fmt.Sprint(ways)
}

// wantAnnounced is announcedAs for an address of e alone.
func wantAnnounced(e *v1alpha2.Eip) string {
	if e.Spec.Protocol == v1alpha2.ProtocolLayer2 {
		return fmt.Sprint([]string{v1alpha2.ProtocolLayer2 + " " + e.Name})
	}
	return fmt.Sprint([]string{v1alpha2.ProtocolBGP})
}

// eipHolding returns the Eip whose status lists ip as used.
func eipHolding(ctx context.Context, ip netip.Addr) (v1alpha2.Eip, error) {
	var list v1alpha2.EipList
	if err := env.Client.List(ctx, &list); err != nil {
		return v1alpha2.Eip{}, err
	}
	for _, e := range list.Items {
		if _, ok := e.Status.Used[ip.String()]; ok {
			return e, nil
		}
	}
	return v1alpha2.Eip{}, fmt.Errorf("no Eip lists %s as used yet", ip)
}

// startPoolViewController runs herald-controller's reconcilers for
// poolViewClass until the test ends.
func startPoolViewController(t *testing.T) {
	t.Helper()
	mgr, err := ctrl.NewManager(env.Config, ctrl.Options{
		Scheme:                 env.Scheme,
		Cache:                  controllers.CacheOptions(""),
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Controller:             config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := controllers.Setup(mgr, controllers.Options{LoadBalancerClass: poolViewClass, EipStatusInterval: 50 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	runUntilCleanup(t, mgr.Start)
}

// startSpeakerCache returns a cache trimmed as herald-speaker's is, the
// reader gather runs on.
func startSpeakerCache(t *testing.T, node string) client.Reader {
	t.Helper()
	opts := CacheOptions(node)
	opts.Scheme = env.Scheme
	c, err := cache.New(env.Config, opts)
	if err != nil {
		t.Fatal(err)
	}
	runUntilCleanup(t, c.Start)
	return c
}

// runUntilCleanup runs start until the test ends.
func runUntilCleanup(t *testing.T, start func(context.Context) error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- start(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("stop: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("did not stop within 30s")
		}
	})
}

// createEipCleaned creates e and deletes it when the test ends, after the
// Services holding its addresses (cleanups run last in, first out) and
// while the controller that holds its finalizer still runs.
func createEipCleaned(t *testing.T, e *v1alpha2.Eip) {
	t.Helper()
	create(t, e)
	t.Cleanup(func() { deleteAndWait(t, e) })
}
