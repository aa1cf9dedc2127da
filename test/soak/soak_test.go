package soak

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/test/controllerproc"
)

const (
	// defaultSeed makes every run the same stream of operations;
	// HERALD_SOAK_SEED replays another one.
	defaultSeed = 20261123
	seedEnv     = "HERALD_SOAK_SEED"
	// logDirEnv keeps the controllers' logs (and kubeconfig) in a
	// directory that outlives the test, for a look after a failure.
	logDirEnv = "HERALD_SOAK_LOGDIR"

	operations = 600
	// opInterval paces the stream so the controller, built with -race
	// under `go test -race`, sees Services come and go while it works
	// rather than a burst it only meets after the fact.
	opInterval = 50 * time.Millisecond
	// leadFor is how many operations a controller leads before it is
	// stopped, alternately by SIGTERM and SIGKILL. A restart waits until
	// the successor leads (a SIGKILLed leader's Lease must expire first,
	// about 5 s or 100 operations), so the stream of 600 holds about six
	// restarts, each leader having really worked.
	leadFor = 40
	// maxLive caps the Services alive at once; above it the stream deletes.
	maxLive = 90
	// stopWithin bounds a SIGTERM hand-over; it is below the manager's
	// 30 s graceful-shutdown timeout so that a hang shows as one.
	stopWithin = 20 * time.Second
)

// growAt are the operations at which the named pool grows.
var growAt = []int{200, 400}

func TestSoak(t *testing.T) {
	seed := uint64(defaultSeed)
	if text := os.Getenv(seedEnv); text != "" {
		s, err := strconv.ParseUint(text, 10, 64)
		if err != nil {
			t.Fatalf("%s=%q: %v", seedEnv, text, err)
		}
		seed = s
	}
	t.Logf("seed %d (%s=%d replays this stream)", seed, seedEnv, seed)
	// Everything below is bounded by this deadline, the stream and the
	// final waits alike.
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()

	cfg := rest.CopyConfig(env.Config)
	cfg.QPS, cfg.Burst = 200, 400
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var pools []*poolState
	for _, p := range soakPools() {
		pools = append(pools, &poolState{pool: p})
	}
	if err := createFixtures(ctx, env.Client, pools); err != nil {
		t.Fatal(err)
	}
	obsCtx, stopObserver := context.WithCancel(ctx)
	defer stopObserver()
	obs := newObserver()
	if err := obs.start(obsCtx, cs); err != nil {
		t.Fatal(err)
	}

	bin, err := controllerBin.Path()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if keep := os.Getenv(logDirEnv); keep != "" {
		dir = keep
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	kubeconfig, err := env.WriteKubeconfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctrls := &controllers{t: t, ctx: ctx, opts: controllerproc.Options{
		Binary: bin, Kubeconfig: kubeconfig, LeaseNamespace: leaseNS, LogDir: dir,
	}}
	ctrls.current, ctrls.currentTk = ctrls.start("its start")

	s := &stream{t: t, ctx: ctx, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), cs: cs, pools: pools, obs: obs}
	began := time.Now()
	tick := time.NewTicker(opInterval)
	defer tick.Stop()
	// ledSince is the operation at which the current leader was first
	// seen leading, -1 while it waits for the Lease.
	ledSince := -1
	for i := range operations {
		select {
		case <-ctx.Done():
			t.Fatalf("stream stopped at operation %d: %v", i, ctx.Err())
		case <-tick.C:
		}
		ctrls.checkRunning()
		if ledSince < 0 && ctrls.leads() {
			ledSince = i
		}
		if ledSince >= 0 && i-ledSince >= leadFor {
			ctrls.restart((ctrls.terms+ctrls.kills)%2 == 1)
			ledSince = -1
		}
		// Restarts depend on timing; the Service operations do not: the
		// same seed makes the same calls to step.
		if slices.Contains(growAt, i) {
			if err := grow(ctx, env.Client, s.pool(namedPool)); err != nil {
				t.Fatal(err)
			}
			s.grown++
		} else {
			s.step()
		}
		if v := obs.snapshot().violations; len(v) > 0 {
			t.Fatalf("after operation %d: %d violations:\n%s", i, len(v), joinLines(v))
		}
	}
	streamTook := time.Since(began)

	settleBegan := time.Now()
	final := waitSettled(ctx, t, obs, pools)
	settleTook := time.Since(settleBegan)
	checkPlacement(t, final, pools)
	checkEips(ctx, t, obs, pools)
	if v := obs.snapshot().violations; len(v) > 0 {
		t.Errorf("%d violations:\n%s", len(v), joinLines(v))
	}

	exit, err := ctrls.current.Stop(syscall.SIGTERM, stopWithin)
	if err != nil {
		t.Error(err)
	} else if exit.Code != 0 {
		t.Errorf("last leader after SIGTERM: %s, want exit status 0", exit)
	}
	cancel() // ends waits for standbys that never led, if any
	restoreConflicts, reconcileErrors := ctrls.logs()

	addressed := 0
	for _, svc := range final.live {
		if ingressOf(svc) != "" {
			addressed++
		}
	}
	t.Logf("stream of %d operations took %s, settling %s", operations, streamTook.Round(time.Millisecond), settleTook.Round(time.Millisecond))
	t.Logf("services created %d (automatic %d, named Eip %d, requested IP %d of which %d asked for an address then held), deleted %d; "+
		"pool growths %d; restarts %d (SIGTERM %d, SIGKILL %d)",
		s.created, s.auto, s.named, s.requested, s.requestedTaken, s.deleted, s.grown, ctrls.terms+ctrls.kills, ctrls.terms, ctrls.kills)
	t.Logf("observed %d first allocations; at the end %d live Services, %d with an address; last leader %s",
		final.allocations, len(final.live), addressed, exit)
	t.Logf("controller logs: %d restore conflicts, %d reconcile errors (retried)", restoreConflicts, reconcileErrors)
	for _, line := range ctrls.report() {
		t.Log(line)
	}
}

// stream is the random sequence of Service operations.
type stream struct {
	t     *testing.T
	ctx   context.Context
	rng   *rand.Rand
	cs    kubernetes.Interface
	pools []*poolState
	obs   *observer

	live []string // "namespace/name" of Services created and not deleted
	next int

	created, auto, named, requested, requestedTaken, deleted, grown int
}

func (s *stream) pool(name string) *poolState {
	for _, p := range s.pools {
		if p.name == name {
			return p
		}
	}
	s.t.Fatalf("no pool %s", name)
	return nil
}

// step performs one random operation: delete (40 %, or always above
// maxLive), create with automatic allocation (30 %), naming the named
// pool (12 %) or requesting an address (18 %), half of those one a live
// Service shows at that moment.
func (s *stream) step() {
	r := s.rng.IntN(100)
	switch {
	case len(s.live) >= maxLive || (r < 40 && len(s.live) > 0):
		s.delete()
	case r < 70:
		s.auto++
		s.create(nil)
	case r < 82:
		s.named++
		s.create(map[string]string{v1alpha2.AnnotationEip: namedPool})
	default:
		s.requested++
		s.create(map[string]string{v1alpha2.AnnotationRequestedIP: s.requestAddress()})
	}
}

// requestAddress picks an address another Service holds, or any address
// of a pool's largest prefix (so some are outside the pool until it
// grows, and some are in a pool that does not admit the namespace).
func (s *stream) requestAddress() string {
	// The coin is tossed first so the stream does not depend on what the
	// observer happens to see.
	wantTaken := s.rng.IntN(2) == 0
	p := s.pools[s.rng.IntN(len(s.pools))]
	last := p.prefixes[len(p.prefixes)-1]
	offset := s.rng.IntN(1 << (32 - last.Bits()))
	if wantTaken {
		held := s.obs.snapshot().held
		if len(held) > 0 {
			ips := make([]string, 0, len(held))
			for ip := range held {
				ips = append(ips, ip)
			}
			slices.Sort(ips)
			s.requestedTaken++
			return ips[offset%len(ips)]
		}
	}
	a := last.Addr()
	for range offset {
		a = a.Next()
	}
	return a.String()
}

func (s *stream) create(annotations map[string]string) {
	ns := freeNS
	if s.rng.IntN(3) == 0 {
		ns = boundNS
	}
	s.next++
	name := fmt.Sprintf("svc-%04d", s.next)
	svc := soakService(name, annotations)
	if _, err := s.cs.CoreV1().Services(ns).Create(s.ctx, svc, metav1.CreateOptions{}); err != nil {
		s.t.Fatalf("create service %s/%s: %v", ns, name, err)
	}
	s.created++
	s.live = append(s.live, ns+"/"+name)
}

func (s *stream) delete() {
	i := s.rng.IntN(len(s.live))
	key := s.live[i]
	s.live = slices.Delete(s.live, i, i+1)
	ns, name := splitKey(key)
	err := s.cs.CoreV1().Services(ns).Delete(s.ctx, name, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		s.t.Fatalf("delete service %s: %v", key, err)
	}
	s.deleted++
}

// soakService is a Herald LoadBalancer on 80/TCP. Every Service of the
// soak uses the same port, so no two may ever share an address.
func soakService(name string, annotations map[string]string) *corev1.Service {
	all := map[string]string{v1alpha2.AnnotationLoadBalancer: v1alpha2.AnnotationLoadBalancerValue}
	for k, v := range annotations {
		all[k] = v
	}
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: all},
		Spec: corev1.ServiceSpec{
			Type:                          corev1.ServiceTypeLoadBalancer,
			AllocateLoadBalancerNodePorts: ptr.To(false),
			Selector:                      map[string]string{"app": name},
			Ports:                         []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP}},
		},
	}
}

func splitKey(key string) (ns, name string) {
	ns, name, _ = strings.Cut(key, "/")
	return ns, name
}

func joinLines(lines []string) string {
	return "  " + strings.Join(lines, "\n  ")
}
