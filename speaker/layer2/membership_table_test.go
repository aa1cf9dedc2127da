package layer2

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// tableRig drives a memberTable for node "self" with the default timings
// and a clock the test moves.
type tableRig struct {
	t      *testing.T
	table  *memberTable
	start  time.Time
	now    time.Time
	writes map[int64]time.Time
}

func newTableRig(t *testing.T) *tableRig {
	r := &tableRig{t: t, start: time.Now(), writes: map[int64]time.Time{}}
	r.now = r.start
	r.table = newMemberTable(LeaseNamePrefix+"self", DefaultLeaseDuration, DefaultRenewDeadline, DefaultRetryPeriod,
		func(renew time.Time) (time.Time, bool) { at, ok := r.writes[renew.UnixMicro()]; return at, ok })
	return r
}

// at moves the clock to start+d.
func (r *tableRig) at(d time.Duration) *tableRig {
	r.now = r.start.Add(d)
	return r
}

// lease is a Lease as another node (whose clock is skew ahead) writes it.
func lease(node, holder string, renew time.Time, unavailable string) *coordinationv1.Lease {
	l := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: LeaseNamePrefix + node}}
	l.Spec.HolderIdentity = &holder
	l.Spec.RenewTime = &metav1.MicroTime{Time: renew}
	if unavailable != "" {
		l.Annotations = map[string]string{UnavailableAnnotation: unavailable}
	}
	return l
}

// renew delivers a renewal of node written now by a clock skewed by skew.
func (r *tableRig) renew(node string, skew time.Duration) {
	r.table.observe(lease(node, node, r.now.Add(skew), ""), r.now)
}

// selfWrote delivers, now, this speaker's renewal written at start+wrote.
func (r *tableRig) selfWrote(wrote time.Duration) {
	at := r.start.Add(wrote)
	r.writes[at.UnixMicro()] = at
	r.table.observe(lease("self", "self", at.Round(0), ""), r.now)
}

func (r *tableRig) want(live []string, frozen bool) {
	r.t.Helper()
	got, _ := r.table.view(r.now)
	if diff := cmp.Diff(live, got.Nodes()); diff != "" || got.Frozen != frozen {
		r.t.Errorf("at +%s: live (-want +got):\n%s frozen = %v, want %v", r.now.Sub(r.start), diff, got.Frozen, frozen)
	}
}

func TestMemberTableNothingBeforeOwnRenewal(t *testing.T) {
	r := newTableRig(t)
	r.renew("a", 0)
	r.want(nil, true)
	r.at(100 * time.Millisecond).selfWrote(90 * time.Millisecond)
	r.want([]string{"a", "self"}, false)
}

func TestMemberTableExpiry(t *testing.T) {
	r := newTableRig(t)
	r.selfWrote(0)
	r.renew("a", time.Hour) // clocks off by less than firstSightStale
	r.renew("b", -5*time.Second)
	r.want([]string{"a", "b", "self"}, false)

	// b renews every 0.5 s, a stops. Own renewals every 0.5 s, seen 5 ms
	// after they are written.
	for ms := 500; ms <= 1500; ms += 500 {
		d := time.Duration(ms) * time.Millisecond
		r.at(d).renew("b", time.Hour)
		r.at(d + 5*time.Millisecond).selfWrote(d)
	}
	r.at(1499*time.Millisecond).want([]string{"a", "b", "self"}, false)
	r.at(1500*time.Millisecond).want([]string{"b", "self"}, false)
	// Own renewals stop coming back: frozen, and nobody expires.
	r.at(10*time.Second).want([]string{"b", "self"}, true)
}

// TestMemberTableStreamRule: a node is dropped only once one of this
// speaker's renewals, written long enough after the node was last seen,
// came back through the watch.
func TestMemberTableStreamRule(t *testing.T) {
	r := newTableRig(t)
	r.selfWrote(0)
	r.renew("a", 0)
	// Own renewals written at 0.5 and 0.9 s came back; a's lease duration
	// passes at 1.5 s, but no own renewal written at or after 1.0 s has.
	r.at(505 * time.Millisecond).selfWrote(500 * time.Millisecond)
	r.at(905 * time.Millisecond).selfWrote(900 * time.Millisecond)
	r.at(1600*time.Millisecond).want([]string{"a", "self"}, false)
	r.at(1610 * time.Millisecond).selfWrote(1600 * time.Millisecond)
	r.want([]string{"self"}, false)
}

// TestMemberTableOutageRace: the API server becomes unreachable right
// after this speaker's renewal, while another node's last renewal came
// late. The other node's lease duration ends before this speaker's renew
// deadline does; a rule based on the local clock alone would drop it.
func TestMemberTableOutageRace(t *testing.T) {
	r := newTableRig(t)
	r.at(-550*time.Millisecond).renew("a", 0)
	r.at(-545 * time.Millisecond).selfWrote(-550 * time.Millisecond)
	r.at(5 * time.Millisecond).selfWrote(0)
	// Outage from here: nothing arrives.
	r.at(960*time.Millisecond).want([]string{"a", "self"}, false)
	r.at(1*time.Second).want([]string{"a", "self"}, false)
	r.at(time.Minute).want([]string{"a", "self"}, true)
}

func TestMemberTableRelease(t *testing.T) {
	r := newTableRig(t)
	r.selfWrote(0)
	r.renew("a", 0)
	r.want([]string{"a", "self"}, false)
	r.at(100*time.Millisecond).table.observe(lease("a", "", r.now, ""), r.now)
	r.want([]string{"self"}, false)
	r.at(200*time.Millisecond).renew("a", 0)
	r.want([]string{"a", "self"}, false)
	r.table.remove(LeaseNamePrefix + "a")
	r.want([]string{"self"}, false)
}

// TestMemberTableFrozen: with its own renewals gone, the speaker drops
// nobody, but applies a release it still hears of.
func TestMemberTableFrozen(t *testing.T) {
	r := newTableRig(t)
	r.selfWrote(0)
	r.renew("a", 0)
	r.renew("b", 0)
	r.at(time.Second).want([]string{"a", "b", "self"}, false)
	r.at(1001*time.Millisecond).want([]string{"a", "b", "self"}, true)
	r.at(time.Hour).want([]string{"a", "b", "self"}, true)
	r.table.observe(lease("b", "", r.now, ""), r.now)
	r.want([]string{"a", "self"}, true)

	// Back: a list shows a renewed, and this speaker's own renewal.
	r.at(time.Hour + time.Second)
	r.writes[r.now.UnixMicro()] = r.now
	r.table.replace([]coordinationv1.Lease{*lease("a", "a", r.now, ""), *lease("self", "self", r.now, "")}, r.now)
	r.want([]string{"a", "self"}, false)
}

// TestMemberTableRelistAfterOutage: a node that died while the watch was
// down is dropped on the first list that shows this speaker's own newer
// renewal next to the node's unchanged one.
func TestMemberTableRelistAfterOutage(t *testing.T) {
	r := newTableRig(t)
	r.selfWrote(0)
	dead := lease("dead", "dead", r.now, "")
	r.table.observe(dead, r.now)
	r.renew("alive", 0)
	r.at(time.Minute)
	r.writes[r.now.UnixMicro()] = r.now
	r.table.replace([]coordinationv1.Lease{*dead, *lease("alive", "alive", r.now, ""), *lease("self", "self", r.now, "")}, r.now.Add(5*time.Millisecond))
	r.at(time.Minute+5*time.Millisecond).want([]string{"alive", "self"}, false)
}

func TestMemberTableFirstSight(t *testing.T) {
	r := newTableRig(t)
	r.selfWrote(0)
	r.table.observe(lease("ghost", "ghost", r.now.Add(-time.Minute), ""), r.now)
	r.table.observe(lease("skewed", "skewed", r.now.Add(-9*time.Second), ""), r.now)
	r.want([]string{"self", "skewed"}, false)
	// The ghost's node comes back.
	r.at(100*time.Millisecond).renew("ghost", 0)
	r.want([]string{"ghost", "self", "skewed"}, false)
}

func TestMemberTableUnavailable(t *testing.T) {
	r := newTableRig(t)
	r.selfWrote(0)
	r.table.observe(lease("a", "a", r.now, "eip-b, eip-a,,eip-b"), r.now)
	got, _ := r.table.view(r.now)
	if diff := cmp.Diff(map[string][]string{"a": {"eip-a", "eip-b"}, "self": nil}, got.Live); diff != "" {
		t.Errorf("live (-want +got):\n%s", diff)
	}
	if got.Serves("a", "eip-a") || !got.Serves("a", "eip-c") || !got.Serves("self", "eip-a") || got.Serves("nobody", "eip-c") {
		t.Errorf("Serves wrong for %v", got.Live)
	}
	// An annotation change alone (no renewal) is applied too.
	r.table.observe(lease("a", "a", r.now, ""), r.now)
	got, _ = r.table.view(r.now)
	if got.Live["a"] != nil {
		t.Errorf("a's unavailable eips = %v after the annotation went, want none", got.Live["a"])
	}
}

func TestMemberTableIgnoresOtherLeases(t *testing.T) {
	r := newTableRig(t)
	r.selfWrote(0)
	other := lease("x", "x", r.now, "")
	other.Name = "kube-controller-manager"
	r.table.observe(other, r.now)
	r.table.observe(lease("", "someone", r.now, ""), r.now)
	r.want([]string{"self"}, false)
}

func TestMemberTableNextWake(t *testing.T) {
	r := newTableRig(t)
	r.selfWrote(0)
	r.at(200*time.Millisecond).renew("a", 0)
	_, next := r.table.view(r.now)
	if want := r.start.Add(DefaultRenewDeadline + time.Nanosecond); !next.Equal(want) {
		t.Errorf("next wake at +%s, want the renew deadline +%s", next.Sub(r.start), want.Sub(r.start))
	}
	r.at(950 * time.Millisecond).selfWrote(900 * time.Millisecond)
	_, next = r.table.view(r.now)
	if want := r.start.Add(200*time.Millisecond + DefaultLeaseDuration); !next.Equal(want) {
		t.Errorf("next wake at +%s, want a's expiry +%s", next.Sub(r.start), want.Sub(r.start))
	}
}
