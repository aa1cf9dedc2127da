package layer2

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestMemberTableAddrs: the known nodes' published addresses are in the
// view, parsed leniently, a released Lease's included (it stays known);
// Equal sees a change of addresses alone.
func TestMemberTableAddrs(t *testing.T) {
	r := newTableRig(t)
	r.selfWrote(0)
	a := lease("a", "a", r.now, "")
	a.Annotations = map[string]string{AddressesAnnotation: "2001:db8::a, junk,192.0.2.10"}
	r.table.observe(a, r.now)
	r.table.observe(lease("b", "b", r.now, ""), r.now)
	dead := lease("c", "", r.now, "")
	dead.Annotations = map[string]string{AddressesAnnotation: "192.0.2.12"}
	r.table.observe(dead, r.now)

	got, _ := r.table.view(r.now)
	want := map[string][]netip.Addr{
		"a": {netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("2001:db8::a")},
		"c": {netip.MustParseAddr("192.0.2.12")},
	}
	if diff := cmp.Diff(want, got.Addrs, cmp.Comparer(func(x, y netip.Addr) bool { return x == y })); diff != "" {
		t.Errorf("Addrs (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"a", "b", "self"}, got.Nodes()); diff != "" {
		t.Errorf("live (-want +got):\n%s", diff)
	}

	// An address change alone makes another view.
	a = lease("a", "a", r.now, "")
	a.Annotations = map[string]string{AddressesAnnotation: "192.0.2.11"}
	r.table.observe(a, r.now)
	next, _ := r.table.view(r.now)
	if got.Equal(next) || !next.Equal(next) {
		t.Errorf("views with addresses %v and %v: Equal = %v", got.Addrs, next.Addrs, got.Equal(next))
	}
	// So does a node dropping them: Addrs has no entry for it then.
	r.table.observe(lease("a", "a", r.now, ""), r.now)
	r.table.observe(lease("c", "", r.now, ""), r.now)
	last, _ := r.table.view(r.now)
	if last.Equal(next) || last.Addrs != nil {
		t.Errorf("no addresses published: Addrs %v, Equal to the last view %v", last.Addrs, last.Equal(next))
	}
}

func TestMembersEqualAddrs(t *testing.T) {
	v4, v6 := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::1")
	base := Members{Live: map[string][]string{"a": nil}, Addrs: map[string][]netip.Addr{"a": {v4}}}
	for _, tc := range []struct {
		name  string
		other Members
		equal bool
	}{
		{"same", Members{Live: map[string][]string{"a": nil}, Addrs: map[string][]netip.Addr{"a": {v4}}}, true},
		{"another address", Members{Live: map[string][]string{"a": nil}, Addrs: map[string][]netip.Addr{"a": {v6}}}, false},
		{"one more address", Members{Live: map[string][]string{"a": nil}, Addrs: map[string][]netip.Addr{"a": {v4, v6}}}, false},
		{"none", Members{Live: map[string][]string{"a": nil}}, false},
	} {
		if got := base.Equal(tc.other); got != tc.equal {
			t.Errorf("%s: Equal = %v, want %v", tc.name, got, tc.equal)
		}
	}
	if !(Members{Live: map[string][]string{}}).Equal(Members{Live: map[string][]string{}, Addrs: map[string][]netip.Addr{}}) {
		t.Error("nil and empty Addrs differ")
	}
}
