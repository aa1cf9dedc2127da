package controllers

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/internal/iprange"
	"github.com/herald-lb/herald/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) {
	ctrl.SetLogger(zap.New(zap.UseDevMode(true), zap.WriteTo(os.Stderr)))
	var err error
	env, err = testenv.New(testenv.Options{DualStack: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	if err := env.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	os.Exit(code)
}

// startController runs the controllers in a manager of their own until the
// test ends or stop is called; a second call after stop is a restart.
func startController(t *testing.T, opts Options) (stop func()) {
	t.Helper()
	mgr, err := ctrl.NewManager(env.Config, ctrl.Options{
		Scheme:                 env.Scheme,
		Cache:                  CacheOptions(opts.SpeakerNamespace),
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Controller:             config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		t.Fatal(err)
	}
	if opts.EipStatusInterval == 0 {
		opts.EipStatusInterval = 50 * time.Millisecond
	}
	if opts.ServingGrace == 0 {
		// Short, so the tests see Ready turn False quickly, but not
		// nothing: the hold-back runs on every path.
		opts.ServingGrace = 100 * time.Millisecond
	}
	if err := Setup(mgr, opts); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("manager: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("manager did not stop within 30s")
		}
	}
	t.Cleanup(stop)
	return stop
}

// namespace creates a fresh namespace for one test.
func namespace(t *testing.T, labels map[string]string) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "t-", Labels: labels}}
	if err := env.Client.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emptyNamespace(t, ns.Name) })
	return ns.Name
}

// emptyNamespace deletes every Service of a test's namespace, so that none
// waits there for an address and grabs it in a later test. There is no
// namespace controller in the test control plane to do it. Finalizers left
// because no controller runs any more are stripped.
func emptyNamespace(t *testing.T, ns string) {
	ctx := context.Background()
	if err := env.Client.DeleteAllOf(ctx, &corev1.Service{}, client.InNamespace(ns)); err != nil {
		t.Errorf("delete services in %s: %v", ns, err)
		return
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		var list corev1.ServiceList
		if err := env.Client.List(ctx, &list, client.InNamespace(ns)); err != nil {
			t.Errorf("list services in %s: %v", ns, err)
			return
		}
		if len(list.Items) == 0 {
			return
		}
		if time.Now().After(deadline) {
			for i := range list.Items {
				svc := &list.Items[i]
				svc.Finalizers = nil
				_ = env.Client.Update(ctx, svc)
			}
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func createEip(t *testing.T, name, address string, mutate ...func(*v1alpha2.Eip)) *v1alpha2.Eip {
	t.Helper()
	e := &v1alpha2.Eip{ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{}}, Spec: v1alpha2.EipSpec{Address: address}}
	for _, m := range mutate {
		m(e)
	}
	if err := env.Client.Create(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { deleteEip(t, name) })
	return e
}

// deleteEip removes an Eip and waits until it is gone; Services still
// holding its addresses are deleted first so the finalizer can let go.
func deleteEip(t *testing.T, name string) {
	ctx := context.Background()
	e := &v1alpha2.Eip{}
	if err := env.Client.Get(ctx, client.ObjectKey{Name: name}, e); err != nil {
		return
	}
	// Delete first, so that the Eip hands out nothing new, then free it.
	if err := env.Client.Delete(ctx, e); client.IgnoreNotFound(err) != nil {
		t.Errorf("delete eip %s: %v", name, err)
		return
	}
	releaseServices(t, e)
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if err := env.Client.Get(ctx, client.ObjectKey{Name: name}, e); err != nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Nobody runs the controller any more: drop the finalizer by hand so
	// the next test starts clean.
	e.Finalizers = nil
	_ = env.Client.Update(ctx, e)
}

func asDefault(e *v1alpha2.Eip) { e.Annotations[v1alpha2.AnnotationDefaultEip] = "true" }

type svcOpt func(*corev1.Service)

func annotated(kv ...string) svcOpt {
	return func(s *corev1.Service) {
		for i := 0; i+1 < len(kv); i += 2 {
			s.Annotations[kv[i]] = kv[i+1]
		}
	}
}

func withPort(p int32) svcOpt {
	return func(s *corev1.Service) {
		s.Spec.Ports = []corev1.ServicePort{{Name: "p", Port: p, Protocol: corev1.ProtocolTCP}}
	}
}

func createService(t *testing.T, ns, name string, opts ...svcOpt) *corev1.Service {
	t.Helper()
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Annotations: map[string]string{
			v1alpha2.AnnotationLoadBalancer: v1alpha2.AnnotationLoadBalancerValue,
		}},
		Spec: corev1.ServiceSpec{
			Type:                          corev1.ServiceTypeLoadBalancer,
			Ports:                         []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP}},
			Selector:                      map[string]string{"app": name},
			AllocateLoadBalancerNodePorts: ptr.To(false),
		},
	}
	for _, o := range opts {
		o(svc)
	}
	if err := env.Client.Create(context.Background(), svc); err != nil {
		t.Fatal(err)
	}
	return svc
}

// ingressOf returns a Service's status addresses as text, or an error
// while it has none.
func ingressOf(ns, name string) ([]string, error) {
	var svc corev1.Service
	if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &svc); err != nil {
		return nil, err
	}
	var out []string
	for _, in := range svc.Status.LoadBalancer.Ingress {
		out = append(out, in.IP)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("service %s/%s has no address yet", ns, name)
	}
	return out, nil
}

// waitIngress waits for a Service's addresses to be exactly want.
func waitIngress(t *testing.T, ns, name string, want ...string) {
	t.Helper()
	testenv.Eventually(t, 15*time.Second, func() error {
		got, err := ingressOf(ns, name)
		if err != nil {
			return err
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			return fmt.Errorf("service %s/%s has %v, want %v", ns, name, got, want)
		}
		return nil
	})
}

// waitEvent waits for an event with this reason on the Service whose note
// contains text.
func waitEvent(t *testing.T, ns, name, reason, text string) {
	t.Helper()
	testenv.Eventually(t, 15*time.Second, func() error {
		var list corev1.EventList
		if err := env.Client.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
			return err
		}
		var seen []string
		for _, e := range list.Items {
			if e.InvolvedObject.Name != name {
				continue
			}
			if e.Reason == reason && contains(e.Message, text) {
				return nil
			}
			seen = append(seen, e.Reason+": "+e.Message)
		}
		return fmt.Errorf("no %s event containing %q on %s/%s; events: %v", reason, text, ns, name, seen)
	})
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

func objMeta(ns, name string) metav1.ObjectMeta { return metav1.ObjectMeta{Namespace: ns, Name: name} }

// releaseServices deletes the Services holding addresses of an Eip and
// waits until they are gone, so that the Eip's deletion is not held up.
func releaseServices(t *testing.T, e *v1alpha2.Eip) {
	ctx := context.Background()
	r, err := iprange.Parse(e.Spec.Address)
	if err != nil {
		return
	}
	var list corev1.ServiceList
	if err := env.Client.List(ctx, &list); err != nil {
		t.Errorf("list services: %v", err)
		return
	}
	var doomed []client.ObjectKey
	for i := range list.Items {
		svc := &list.Items[i]
		for _, a := range ingressAddrs(svc) {
			if r.Contains(a) {
				if err := env.Client.Delete(ctx, svc); client.IgnoreNotFound(err) != nil {
					t.Errorf("delete service %s/%s: %v", svc.Namespace, svc.Name, err)
				}
				doomed = append(doomed, client.ObjectKeyFromObject(svc))
				break
			}
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for _, key := range doomed {
		for time.Now().Before(deadline) {
			if err := env.Client.Get(ctx, key, &corev1.Service{}); err != nil {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}
