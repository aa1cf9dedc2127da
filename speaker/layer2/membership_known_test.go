package layer2

import (
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestMemberTableKnown: a node stays known while its Lease was renewed or
// released within the known TTL, live or not, and a frozen view forgets
// nobody; the view says when the next node drops out.
func TestMemberTableKnown(t *testing.T) {
	r := newTableRig(t)
	r.table.knownTTL = time.Minute
	wantKnown := func(step string, want ...string) Members {
		t.Helper()
		got, _ := r.table.view(r.now)
		if diff := cmp.Diff(want, slices.Sorted(maps.Keys(got.Known))); diff != "" {
			t.Errorf("%s: known (-want +got):\n%s", step, diff)
		}
		return got
	}
	r.selfWrote(0)
	r.renew("live", 0)
	r.table.observe(lease("released", "", r.now, "pool"), r.now)
	// A speaker dead for 30 s when first seen: not live, still known.
	r.table.observe(lease("dead", "dead", r.now.Add(-30*time.Second), ""), r.now)
	r.table.observe(lease("gone", "gone", r.now.Add(-2*time.Minute), ""), r.now)
	v := wantKnown("start", "dead", "live", "released", "self")
	if diff := cmp.Diff([]string{"live", "self"}, v.Nodes()); diff != "" {
		t.Errorf("live (-want +got):\n%s", diff)
	}
	if v.Known["released"][0] != "pool" {
		t.Errorf("released node's unavailable Eips %v, want [pool]", v.Known["released"])
	}
	if _, next := r.table.view(r.now); next.IsZero() || next.After(r.now.Add(30*time.Second)) {
		t.Errorf("next change at %v, want by the dead node's TTL (+30 s)", next.Sub(r.now))
	}

	// 40 s on: the dead node's TTL has run out; the others renew.
	r.at(40 * time.Second).selfWrote(40 * time.Second)
	r.renew("live", 0)
	wantKnown("+40s", "live", "released", "self")

	// Cut off from the API server at +70 s: the released node's TTL runs
	// out by the clock, but a frozen view forgets nobody.
	r.at(70 * time.Second)
	if v := wantKnown("frozen", "live", "released", "self"); !v.Frozen {
		t.Error("view not frozen without own renewals")
	}
	r.selfWrote(70 * time.Second)
	wantKnown("thawed", "live", "self")
}

func TestMembersEqualKnown(t *testing.T) {
	a := Members{Live: map[string][]string{"a": nil}, Known: map[string][]string{"a": nil}}
	b := Members{Live: map[string][]string{"a": nil}, Known: map[string][]string{"a": nil, "b": nil}}
	if a.Equal(b) || !a.Equal(a) {
		t.Error("Equal does not compare Known")
	}
}
