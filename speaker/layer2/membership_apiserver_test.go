package layer2

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/testr"
	"github.com/google/go-cmp/cmp"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	coordinationv1client "k8s.io/client-go/kubernetes/typed/coordination/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-lb/herald/internal/testenv"
)

// Bounds of the measurements, generous for a loaded 2-core machine
// running with -race.
const (
	releaseNoticeBound = 2 * time.Second
	killNoticeBound    = DefaultLeaseDuration + DefaultRetryPeriod + time.Second
)

// TestLayer2MembershipAgainstAPIServer runs in-process speakers (a Lease
// and a membership view each, with clients of their own) against a real
// kube-apiserver, one namespace per subtest.
func TestLayer2MembershipAgainstAPIServer(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})

	t.Run("release and kill", func(t *testing.T) {
		r := newSpeakerRig(t, env)
		a, b := r.start("node-a", false), r.start("node-b", false)
		for round := range 3 {
			leaving := r.start(fmt.Sprintf("leaving-%d", round), false)
			killed := r.start(fmt.Sprintf("killed-%d", round), true)
			all := []string{a.node, b.node, killed.node, leaving.node}
			// The speakers just started take the previous round's killed
			// one for live until it has been silent for a lease duration
			// in their own view.
			took := r.waitView(time.Now(), 10*time.Second, all, all...)
			t.Logf("round %d: 4 speakers see exactly each other live %s after the last started", round, took)

			start := time.Now()
			leaving.stop()
			took = r.waitView(start, releaseNoticeBound, []string{a.node, b.node, killed.node}, a.node, b.node, killed.node)
			t.Logf("round %d: stop with release noticed by every other speaker %s after the stop began", round, took)

			start = time.Now()
			killed.stop() // without releasing, as after SIGKILL
			took = r.waitView(start, killNoticeBound, []string{a.node, b.node}, a.node, b.node)
			t.Logf("round %d: stop without release noticed by every other speaker after %s (lease duration %s)", round, took, DefaultLeaseDuration)
		}
	})

	t.Run("speaker cut off from the API server freezes its view", func(t *testing.T) {
		r := newSpeakerRig(t, env)
		a, b, c := r.start("node-a", false), r.start("node-b", false), r.start("node-c", false)
		all := []string{a.node, b.node, c.node}
		r.waitView(time.Now(), 10*time.Second, all, all...)

		c.cut.set(true)
		start := time.Now()
		took := r.waitView(start, killNoticeBound, []string{a.node, b.node}, a.node, b.node)
		t.Logf("speaker cut off: dropped by the others in %s", took)
		waitFor(t, 2*time.Second, func() bool { return !c.view.Healthy() })
		// The cut-off speaker keeps everyone, itself included, for good.
		for time.Since(start) < 2*(DefaultLeaseDuration+DefaultRetryPeriod) {
			if got := c.view.Snapshot(); !got.Frozen && time.Since(start) > DefaultLeaseDuration || !slices.Equal(got.Nodes(), all) {
				t.Fatalf("cut-off view after %s: frozen %v, live %v; want frozen with %v", time.Since(start), got.Frozen, got.Nodes(), all)
			}
			time.Sleep(20 * time.Millisecond)
		}

		c.cut.set(false)
		took = r.waitView(time.Now(), 5*time.Second, all, all...)
		t.Logf("connection back: all views current and complete again in %s", took)
		if !c.view.Healthy() {
			t.Error("view of the speaker back online still frozen")
		}
	})

	t.Run("API server unreachable for everyone: no view changes", func(t *testing.T) {
		r := newSpeakerRig(t, env)
		all := []string{"node-a", "node-b", "node-c"}
		var speakers []*speakerUnderTest
		for _, n := range all {
			speakers = append(speakers, r.start(n, false))
		}
		r.waitView(time.Now(), 10*time.Second, all, all...)

		for _, s := range speakers {
			s.cut.set(true)
		}
		start := time.Now()
		for time.Since(start) < 2*(DefaultLeaseDuration+DefaultRetryPeriod) {
			for _, s := range speakers {
				if got := s.view.Snapshot(); !slices.Equal(got.Nodes(), all) {
					t.Fatalf("%s's view %s after the cut: %v, want %v", s.node, time.Since(start), got.Nodes(), all)
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
		for _, s := range speakers {
			if s.view.Healthy() {
				t.Errorf("%s's view not frozen after %s cut off", s.node, time.Since(start))
			}
			s.cut.set(false)
		}
		took := r.waitView(time.Now(), 5*time.Second, all, all...)
		t.Logf("everyone cut off for %s: no view changed; all current again %s after the connections came back", 2*(DefaultLeaseDuration+DefaultRetryPeriod), took)
	})

	t.Run("unavailable eips round-trip", func(t *testing.T) {
		r := newSpeakerRig(t, env)
		a, b := r.start("node-a", false), r.start("node-b", false)
		r.waitView(time.Now(), 10*time.Second, []string{a.node, b.node}, a.node, b.node)

		a.lease.SetUnavailableEips([]string{"eip-b", "eip-a", "eip-b"})
		took := waitFor(t, 2*time.Second, func() bool {
			return slices.Equal(b.view.Snapshot().Live[a.node], []string{"eip-a", "eip-b"})
		})
		t.Logf("unavailable eips seen by the other speaker in %s", took)
		var l coordinationv1.Lease
		if err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: r.ns, Name: a.lease.Name()}, &l); err != nil {
			t.Fatal(err)
		}
		if got := l.Annotations[UnavailableAnnotation]; got != "eip-a,eip-b" {
			t.Errorf("annotation %q, want eip-a,eip-b", got)
		}
		snap := b.view.Snapshot()
		if snap.Serves(a.node, "eip-a") || !snap.Serves(a.node, "eip-c") || !snap.Serves(b.node, "eip-a") {
			t.Errorf("Serves wrong for %v", snap.Live)
		}

		a.lease.SetUnavailableEips(nil)
		waitFor(t, 2*time.Second, func() bool {
			got, live := b.view.Snapshot().Live[a.node]
			return live && got == nil
		})
	})

	t.Run("writes per second", func(t *testing.T) {
		r := newSpeakerRig(t, env)
		nodes := []string{"node-a", "node-b", "node-c"}
		var speakers []*speakerUnderTest
		for _, n := range nodes {
			speakers = append(speakers, r.start(n, false))
		}
		clientWrites := func() (n int) {
			for _, s := range speakers {
				n += s.cut.writeCount()
			}
			return n
		}
		r.waitView(time.Now(), 10*time.Second, nodes, nodes...)
		time.Sleep(time.Second)

		// The API server samples its counter when the scrape arrives;
		// parsing the scrape takes a while, so the window runs from the
		// start of one scrape to the start of the next.
		startBefore, clientBefore := time.Now(), clientWrites()
		before, err := env.MutatingRequests(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Until(startBefore.Add(5 * time.Second)))
		startAfter, clientAfter := time.Now(), clientWrites()
		after, err := env.MutatingRequests(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		window := startAfter.Sub(startBefore).Seconds()
		// The API server renews its own identity Lease every 10 s too.
		perSecond := (after["leases"] - before["leases"]) / window
		expected := float64(len(nodes)) / DefaultRetryPeriod.Seconds()
		t.Logf("steady state, %d speakers: %.1f Lease writes/s counted by the API server, %.1f sent by the speakers (expected about %.0f: one per retry period and round trip per node, and the API server's own Lease every 10 s)",
			len(nodes), perSecond, float64(clientAfter-clientBefore)/window, expected)
		if perSecond < expected/2 || perSecond > expected*1.3 {
			t.Errorf("%.1f Lease writes/s, want about %.0f", perSecond, expected)
		}
	})
}

// testLogger logs through t with timestamps.
func testLogger(t *testing.T) logr.Logger {
	return testr.NewWithOptions(t, testr.Options{LogTimestamp: true})
}

// speakerRig runs speakers in a namespace of their own.
type speakerRig struct {
	t        *testing.T
	env      *testenv.Env
	ns       string
	speakers []*speakerUnderTest
}

func newSpeakerRig(t *testing.T, env *testenv.Env) *speakerRig {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "layer2-"}}
	if err := env.Client.Create(t.Context(), ns); err != nil {
		t.Fatal(err)
	}
	return &speakerRig{t: t, env: env, ns: ns.Name}
}

// speakerUnderTest is a Lease and a membership view with clients of their
// own, whose connection to the API server the test can cut.
type speakerUnderTest struct {
	node  string
	lease *NodeLease
	view  *Membership
	cut   *cutSwitch
	stop  func()
}

// start runs a speaker until stop or the end of the test; keepOnStop
// makes stop leave its Lease held, as SIGKILL does.
func (r *speakerRig) start(node string, keepOnStop bool) *speakerUnderTest {
	r.t.Helper()
	cut := &cutSwitch{open: map[*cutBody]struct{}{}}
	cfg := rest.CopyConfig(r.env.Config)
	cfg.Wrap(cut.wrap)
	leaseCfg := rest.CopyConfig(cfg)
	leaseCfg.Timeout = time.Second
	leaseClient, err := coordinationv1client.NewForConfig(leaseCfg)
	if err != nil {
		r.t.Fatal(err)
	}
	viewClient, err := coordinationv1client.NewForConfig(cfg)
	if err != nil {
		r.t.Fatal(err)
	}
	log := testLogger(r.t).WithValues("speaker", node)
	lease, err := NewNodeLease(leaseClient, LeaseConfig{Node: node, Namespace: r.ns, KeepOnStop: keepOnStop, Log: log})
	if err != nil {
		r.t.Fatal(err)
	}
	view := NewMembership(viewClient, lease)

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, run := range []func(context.Context) error{lease.Start, view.Start} {
		wg.Go(func() {
			if err := run(ctx); err != nil {
				r.t.Errorf("speaker %s: %v", node, err)
			}
		})
	}
	var once sync.Once
	s := &speakerUnderTest{node: node, lease: lease, view: view, cut: cut, stop: func() {
		once.Do(func() {
			cancel()
			wg.Wait()
			r.speakers = slices.DeleteFunc(r.speakers, func(x *speakerUnderTest) bool { return x.node == node })
		})
	}}
	r.t.Cleanup(s.stop)
	r.speakers = append(r.speakers, s)
	return s
}

// waitView waits until every observer's view is healthy with exactly the
// live nodes want, at most within after start, and returns how long after
// start that was.
func (r *speakerRig) waitView(start time.Time, within time.Duration, want []string, observers ...string) time.Duration {
	r.t.Helper()
	want = slices.Sorted(slices.Values(want))
	for {
		var wrong []string
		for _, s := range r.speakers {
			if !slices.Contains(observers, s.node) {
				continue
			}
			if got := s.view.Snapshot(); got.Frozen || !slices.Equal(got.Nodes(), want) {
				wrong = append(wrong, fmt.Sprintf("%s sees %v (frozen %v)", s.node, got.Nodes(), got.Frozen))
			}
		}
		if len(wrong) == 0 {
			return time.Since(start)
		}
		if time.Since(start) > within {
			r.t.Fatalf("not within %s: want %v live; %s", within, want, cmp.Diff(nil, wrong))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// cutSwitch cuts a speaker's connection to the API server: requests fail,
// and response bodies still open (watches) break.
type cutSwitch struct {
	mu     sync.Mutex
	cut    bool
	open   map[*cutBody]struct{}
	writes int // requests other than GET sent, failed ones too
}

var errCut = errors.New("test cut the connection to the API server")

func (s *cutSwitch) wrap(rt http.RoundTripper) http.RoundTripper {
	return &cutTransport{s: s, base: rt}
}

func (s *cutSwitch) set(cut bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cut = cut
	if cut {
		for b := range s.open {
			b.ReadCloser.Close()
		}
	}
}

func (s *cutSwitch) writeCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.writes
}

func (s *cutSwitch) isCut() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cut
}

type cutTransport struct {
	s    *cutSwitch
	base http.RoundTripper
}

func (t *cutTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	t.s.mu.Lock()
	cut := t.s.cut
	if req.Method != http.MethodGet {
		t.s.writes++
	}
	t.s.mu.Unlock()
	if cut {
		return nil, errCut
	}
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	body := &cutBody{ReadCloser: resp.Body, s: t.s}
	t.s.mu.Lock()
	if t.s.cut {
		resp.Body.Close()
	} else {
		t.s.open[body] = struct{}{}
	}
	t.s.mu.Unlock()
	resp.Body = body
	return resp, nil
}

type cutBody struct {
	io.ReadCloser
	s *cutSwitch
}

func (b *cutBody) Read(p []byte) (int, error) {
	if b.s.isCut() {
		return 0, errCut
	}
	return b.ReadCloser.Read(p)
}

func (b *cutBody) Close() error {
	b.s.mu.Lock()
	delete(b.s.open, b)
	b.s.mu.Unlock()
	return b.ReadCloser.Close()
}
