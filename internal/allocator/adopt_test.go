package allocator

import (
	"testing"

	"github.com/herald-lb/herald/internal/eippool"
)

// TestAdopt: an address another load balancer gave a Service is kept when
// it is inside an Eip (the named one, if any) and free; otherwise nothing
// changes and the reason says why.
func TestAdopt(t *testing.T) {
	a := New()
	a.SetPools([]eippool.Pool{pool(t, "p", "192.0.2.0/29", asDefault, disabled, avoidBuggy), pool(t, "q", "198.51.100.0/29"),
		pool(t, "team", "203.0.113.0/29", namespaces("team"))})
	if _, err := a.Allocate(req("herald", wants("198.51.100.3"))); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		req    Request
		addr   string
		reason Reason
	}{
		{req("kept"), "192.0.2.0", ""}, // disabled and avoided: kept all the same
		{req("named", named("q")), "198.51.100.1", ""},
		{req("wrong-eip", named("q")), "192.0.2.5", ReasonIPOutsideEips},
		{req("outside"), "10.1.1.1", ReasonIPOutsideEips},
		{req("taken", port(80)), "198.51.100.3", ReasonIPInUse},
		{req("bound"), "203.0.113.1", ReasonNamespaceNotAdmitted},
		{req("v6-only", families(IPv6)), "198.51.100.4", ReasonFamilyMismatch},
	}
	for _, tt := range tests {
		err := a.Adopt(tt.req, addrs(tt.addr))
		if ReasonOf(err) != tt.reason {
			t.Errorf("%s: Adopt(%s) = %v, want %q", tt.req.Key, tt.addr, err, tt.reason)
		}
		held := a.Addresses(tt.req.Key)
		if (tt.reason == "") != (len(held) == 1 && held[0].String() == tt.addr) {
			t.Errorf("%s holds %v after Adopt(%s) = %v", tt.req.Key, held, tt.addr, err)
		}
	}
	// What was adopted stays on the next reconcile of the same request.
	for _, r := range []Request{req("kept"), req("named", named("q"))} {
		before := a.Addresses(r.Key)
		if got, err := a.Allocate(r); err != nil || !sameSet(got, before) {
			t.Errorf("%s: Allocate = %v, %v; want %v kept", r.Key, got, err, before)
		}
	}
}
