package speaker

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/internal/eippool"
	"github.com/herald-lb/herald/speaker/layer2"
)

// fakeSession is a Lease and membership view the test sets.
type fakeSession struct {
	m           layer2.Members
	unavailable []string
	addrs       []netip.Addr
	vipRefused  []string
	changed     chan struct{}
	stopped     bool
}

func (f *fakeSession) Snapshot() layer2.Members          { return f.m }
func (f *fakeSession) SetUnavailableEips(eips []string)  { f.unavailable = eips }
func (f *fakeSession) SetAddresses(addrs []netip.Addr)   { f.addrs = addrs }
func (f *fakeSession) SetVIPConfigRefused(eips []string) { f.vipRefused = eips }
func (f *fakeSession) Changed() <-chan struct{}          { return f.changed }
func (f *fakeSession) Stop()                             { f.stopped = true }

type fakeCarrier struct {
	synced bool
	down   map[string]bool
	// exists lists interfaces that are down but there.
	exists map[string]bool
}

func (f *fakeCarrier) Up(iface string) bool { return !f.down[iface] }
func (f *fakeCarrier) Synced() bool         { return f.synced }

// Exists: the fake knows only carrier; an interface without it is
// missing, unless listed in exists.
func (f *fakeCarrier) Exists(iface string) bool { return f.Up(iface) || f.exists[iface] }

type fakeResponder struct {
	mu     sync.Mutex
	owned  []netip.Addr
	closed bool
}

func (f *fakeResponder) SetOwned(addrs []netip.Addr) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.owned = slices.Clone(addrs)
	return nil
}

func (f *fakeResponder) Counters() layer2.ResponderCounters {
	f.mu.Lock()
	defer f.mu.Unlock()
	return layer2.ResponderCounters{ARPReplies: uint64(len(f.owned)), Conflicts: 1}
}

func (f *fakeResponder) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	return nil
}

// l2Fixture is a Layer2Mode for node "n1" over fakes, with two layer2
// pools: "a" on eth0 and "b" on eth1.
type l2Fixture struct {
	mode       *Layer2Mode
	members    *fakeSession // the current session (also the lease)
	sessions   int          // started so far
	carrier    *fakeCarrier
	responders map[string]*fakeResponder
	conflict   map[string]func(netip.Addr, net.HardwareAddr)
	snap       Snapshot
}

func newL2Fixture(t *testing.T) *l2Fixture {
	t.Helper()
	f := &l2Fixture{
		members:    &fakeSession{m: layer2.Members{Live: map[string][]string{"n1": nil, "n2": nil}}, changed: make(chan struct{})},
		carrier:    &fakeCarrier{synced: true, down: map[string]bool{}},
		responders: map[string]*fakeResponder{},
		conflict:   map[string]func(netip.Addr, net.HardwareAddr){},
	}
	for _, p := range []struct{ name, addr, iface string }{{"a", "192.0.2.0/24", "eth0"}, {"b", "2001:db8::/120", "eth1"}} {
		pool, err := eippool.FromEip(&v1alpha2.Eip{
			ObjectMeta: metav1.ObjectMeta{Name: p.name},
			Spec:       v1alpha2.EipSpec{Address: p.addr, Protocol: v1alpha2.ProtocolLayer2, Interface: p.iface},
		})
		if err != nil {
			t.Fatal(err)
		}
		f.snap.Pools = append(f.snap.Pools, pool)
	}
	f.mode = &Layer2Mode{
		Node: "n1", Carrier: f.carrier,
		Sessions: func() (L2Session, error) {
			f.sessions++
			f.members.stopped = false
			return f.members, nil
		},
		Responders: func(iface string, onConflict func(netip.Addr, net.HardwareAddr)) (L2Responder, error) {
			r := &fakeResponder{}
			f.responders[iface] = r
			f.conflict[iface] = onConflict
			return r, nil
		},
		HandOverTimeout: time.Second,
		Log:             logr.Discard(),
	}
	return f
}

// claims for every address in a (eth0) and b (eth1): enough that n1 wins
// some of each.
func l2TestClaims() []Layer2Claim {
	var out []Layer2Claim
	for i := 1; i <= 8; i++ {
		out = append(out,
			Layer2Claim{Service: "ns/a" + string(rune('0'+i)), IP: netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}), Eip: "a"},
			Layer2Claim{Service: "ns/b" + string(rune('0'+i)), IP: netip.MustParseAddr("2001:db8::" + string(rune('0'+i))), Eip: "b"})
	}
	return out
}

func (f *l2Fixture) apply(t *testing.T, claims []Layer2Claim) {
	t.Helper()
	if err := f.mode.Apply(context.Background(), f.snap, Desired{Layer2: claims}); err != nil {
		t.Fatal(err)
	}
}

// wantOwned is what n1 should answer for: the addresses AssignOwners gives
// it among the live nodes, minus those of skip's Eips.
func wantOwned(claims []Layer2Claim, members layer2.Members, skipEips ...string) []netip.Addr {
	var lc []layer2.AddressClaim
	for _, c := range claims {
		lc = append(lc, layer2.AddressClaim{IP: c.IP, Eip: c.Eip, Nodes: c.Nodes})
	}
	owners := layer2.AssignOwners(lc, members)
	var out []netip.Addr
	for _, c := range claims {
		if owners[c.IP] == "n1" && !slices.Contains(skipEips, c.Eip) {
			out = append(out, c.IP)
		}
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return out
}

func TestLayer2ModeAnswersWhatItOwns(t *testing.T) {
	f := newL2Fixture(t)
	claims := l2TestClaims()
	f.apply(t, claims)
	want := wantOwned(claims, f.members.m)
	if len(want) == 0 || len(want) == len(claims) {
		t.Fatalf("fixture: n1 owns %d of %d addresses; want some, not all", len(want), len(claims))
	}
	if got := f.mode.Owned(); !slices.Equal(got, want) {
		t.Errorf("Owned() = %v, want %v", got, want)
	}
	var answered []netip.Addr
	for iface, r := range f.responders {
		for _, a := range r.owned {
			if (iface == "eth0") != a.Is4() {
				t.Errorf("%s answered on %s", a, iface)
			}
			answered = append(answered, a)
		}
	}
	slices.SortFunc(answered, netip.Addr.Compare)
	if !slices.Equal(answered, want) {
		t.Errorf("responders answer for %v, want %v", answered, want)
	}
	if len(f.members.unavailable) != 0 {
		t.Errorf("unavailable Eips %v, want none", f.members.unavailable)
	}

	// n2 leaves: n1 answers for everything.
	f.members.m = layer2.Members{Live: map[string][]string{"n1": nil}}
	f.apply(t, claims)
	if got := f.mode.Owned(); len(got) != len(claims) {
		t.Errorf("alone, n1 answers for %d of %d addresses", len(got), len(claims))
	}
	// No claims left: the responders close.
	f.apply(t, nil)
	for iface, r := range f.responders {
		if !r.closed {
			t.Errorf("responder on %s still open with nothing to answer for", iface)
		}
	}
}

func TestLayer2ModeCarrier(t *testing.T) {
	f := newL2Fixture(t)
	claims := l2TestClaims()
	f.carrier.synced = false
	f.apply(t, claims)
	if len(f.mode.Owned()) != 0 || len(f.responders) != 0 {
		t.Fatalf("answered before the carrier watch synced: %v", f.mode.Owned())
	}
	f.carrier.synced = true
	f.carrier.down["eth1"] = true
	f.apply(t, claims)
	if !slices.Equal(f.members.unavailable, []string{"b"}) {
		t.Errorf("unavailable Eips %v, want [b]", f.members.unavailable)
	}
	// The lease view does not show it yet; the node still does not answer
	// on an interface without carrier.
	if got, want := f.mode.Owned(), wantOwned(claims, f.members.m, "b"); !slices.Equal(got, want) {
		t.Errorf("Owned() = %v, want %v (nothing of b)", got, want)
	}
	if _, ok := f.responders["eth1"]; ok {
		t.Error("a responder was opened on eth1, which has no carrier")
	}
}

func TestLayer2ModeFrozenYieldsOnConflict(t *testing.T) {
	f := newL2Fixture(t)
	claims := l2TestClaims()
	f.members.m.Frozen = true
	f.apply(t, claims)
	owned := f.mode.Owned()
	if len(owned) == 0 {
		t.Fatal("n1 owns nothing")
	}
	var yielded netip.Addr
	for _, a := range owned {
		if a.Is4() {
			yielded = a
			break
		}
	}
	triggered := 0
	f.mode.Trigger = func() { triggered++ }
	f.conflict["eth0"](yielded, net.HardwareAddr{2, 0, 0, 0, 0, 9})
	if triggered != 1 {
		t.Errorf("conflict while frozen triggered %d reconciles, want 1", triggered)
	}
	f.apply(t, claims)
	if slices.Contains(f.mode.Owned(), yielded) {
		t.Errorf("frozen view and another node announces %s: still answered", yielded)
	}
	// The view is healthy again: the address is n1's again.
	f.members.m.Frozen = false
	f.apply(t, claims)
	if !slices.Contains(f.mode.Owned(), yielded) {
		t.Errorf("healthy view: %s not answered again", yielded)
	}
	// A conflict while healthy changes nothing and triggers nothing.
	f.conflict["eth0"](yielded, net.HardwareAddr{2, 0, 0, 0, 0, 9})
	f.apply(t, claims)
	if !slices.Contains(f.mode.Owned(), yielded) || triggered != 1 {
		t.Errorf("healthy view: a conflict made n1 yield %s (triggers %d)", yielded, triggered)
	}
}

func TestLayer2ModeShutdownHandsOver(t *testing.T) {
	f := newL2Fixture(t)
	claims := l2TestClaims()
	f.apply(t, claims)
	owned := f.mode.Owned()

	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- f.mode.Shutdown(context.Background()) }()
	// The next owners announce every address: Shutdown returns before its
	// timeout. Retry until Shutdown is listening (it starts counting
	// announcements when it starts).
	deadline := time.After(5 * time.Second)
	for {
		for _, a := range owned {
			iface := "eth0"
			if a.Is6() {
				iface = "eth1"
			}
			f.conflict[iface](a, net.HardwareAddr{2, 0, 0, 0, 0, 2})
		}
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			if d := time.Since(start); d >= f.mode.HandOverTimeout {
				t.Errorf("Shutdown took %v: it waited for its timeout although every address was announced", d)
			}
			for iface, r := range f.responders {
				if !r.closed {
					t.Errorf("responder on %s not closed", iface)
				}
			}
			return
		case <-time.After(10 * time.Millisecond):
		case <-deadline:
			t.Fatal("Shutdown did not return")
		}
	}
}

func TestLayer2ModeShutdownTimesOut(t *testing.T) {
	f := newL2Fixture(t)
	f.mode.HandOverTimeout = 50 * time.Millisecond
	f.apply(t, l2TestClaims())
	start := time.Now()
	if err := f.mode.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < f.mode.HandOverTimeout || d > 5*time.Second {
		t.Errorf("Shutdown with nobody announcing took %v, want about %v", d, f.mode.HandOverTimeout)
	}
}

// TestLayer2ModeSessionOnlyWithPools: the Lease runs only while layer2 (or
// vip, TestLayer2ModeSessionForVIPPools) pools exist, and Shutdown
// releases it.
func TestLayer2ModeSessionOnlyWithPools(t *testing.T) {
	f := newL2Fixture(t)
	pools := f.snap.Pools
	f.snap.Pools = nil
	f.apply(t, nil)
	if f.sessions != 0 {
		t.Fatalf("no layer2 pool, yet %d sessions started", f.sessions)
	}
	f.snap.Pools = pools
	f.apply(t, l2TestClaims())
	f.apply(t, l2TestClaims())
	if f.sessions != 1 || f.members.stopped {
		t.Fatalf("layer2 pools: %d sessions started (stopped %v), want one running", f.sessions, f.members.stopped)
	}
	f.snap.Pools = nil
	f.apply(t, nil)
	if !f.members.stopped || len(f.mode.Owned()) != 0 {
		t.Fatalf("pools gone: session stopped %v, still answering %v", f.members.stopped, f.mode.Owned())
	}
	f.snap.Pools = pools
	f.apply(t, l2TestClaims())
	if f.sessions != 2 {
		t.Fatalf("pools back: %d sessions started, want 2", f.sessions)
	}
	f.mode.HandOverTimeout = time.Millisecond
	if err := f.mode.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !f.members.stopped {
		t.Error("Shutdown did not release the Lease")
	}
}

// TestLayer2ModeCountersNeverGoBack: the exported counters keep what
// closed responders counted.
func TestLayer2ModeCountersNeverGoBack(t *testing.T) {
	f := newL2Fixture(t)
	claims := l2TestClaims()
	f.apply(t, claims)
	if got := layer2Counter(f.mode, "eth0", "conflict"); got != 1 {
		t.Fatalf("eth0 conflicts = %v, want 1", got)
	}
	f.apply(t, nil) // every responder closes
	f.apply(t, claims)
	if got := layer2Counter(f.mode, "eth0", "conflict"); got != 2 {
		t.Errorf("after a close and a reopen, eth0 conflicts = %v, want 2 (1 kept + 1 new)", got)
	}
}

// layer2Counter collects c and returns the herald_speaker_layer2_packets_total
// sample of iface and kind, or -1.
func layer2Counter(c prometheus.Collector, iface, kind string) float64 {
	ch := make(chan prometheus.Metric, 100)
	c.Collect(ch)
	close(ch)
	for m := range ch {
		var pb dto.Metric
		if err := m.Write(&pb); err != nil {
			continue
		}
		labels := map[string]string{}
		for _, l := range pb.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		if labels["interface"] == iface && labels["kind"] == kind {
			return pb.GetCounter().GetValue()
		}
	}
	return -1
}

// TestLayer2ModeVIPConfigRefused: what VIP mode asks to publish reaches
// the running session at once, and a session started later with its
// first Apply.
func TestLayer2ModeVIPConfigRefused(t *testing.T) {
	f := newL2Fixture(t)
	f.mode.SetVIPConfigRefused([]string{"vip4"}) // no session yet: kept
	f.apply(t, nil)
	if diff := cmp.Diff([]string{"vip4"}, f.members.vipRefused); diff != "" {
		t.Errorf("published into the new session (-want +got):\n%s", diff)
	}
	f.mode.SetVIPConfigRefused(nil)
	if f.members.vipRefused != nil {
		t.Errorf("cleared, yet the session publishes %v", f.members.vipRefused)
	}
}
