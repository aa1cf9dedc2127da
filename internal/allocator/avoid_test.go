package allocator

import (
	"testing"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/internal/eippool"
)

func avoidBuggy(e *v1alpha2.Eip) { e.Spec.AvoidBuggyIPs = true }

// TestAvoidBuggyIPs covers spec.avoidBuggyIPs: .0 and .255 are skipped by
// automatic and named allocation and refused when asked for; the pool is
// full when every other address is held; IPv6 pools are unaffected.
func TestAvoidBuggyIPs(t *testing.T) {
	a := New()
	a.SetPools([]eippool.Pool{
		pool(t, "p", "192.0.2.254-192.0.3.1", asDefault, avoidBuggy),
		pool(t, "v6", "2001:db8::/127", avoidBuggy),
	})
	steps := []struct {
		req    Request
		want   string
		reason Reason
	}{
		{req("a"), "192.0.2.254", ""},
		{req("b", wants("192.0.2.255")), "", ReasonIPAvoided},
		{req("c", wants("192.0.3.0")), "", ReasonIPAvoided},
		{req("d", named("p")), "192.0.3.1", ""},
		{req("e"), "", ReasonPoolExhausted},
		{req("f", named("v6"), families(IPv6)), "2001:db8::", ""},
	}
	for i, s := range steps {
		got, err := a.Allocate(s.req)
		if ReasonOf(err) != s.reason {
			t.Fatalf("step %d (%s): reason %q (%v), want %q", i, s.req.Key, ReasonOf(err), err, s.reason)
		}
		if s.want != "" && (len(got) != 1 || got[0].String() != s.want) {
			t.Fatalf("step %d (%s): got %v, want %s", i, s.req.Key, got, s.want)
		}
	}
	if !a.Full("p") || a.InUse("p") != 2 {
		t.Fatalf("p: Full = %v, InUse = %d; want full with 2 in use", a.Full("p"), a.InUse("p"))
	}
}

// TestAvoidBuggyIPsTurnedOn: addresses held when the field is set stay
// with their Services and count in usage, without counting against the
// usable size.
func TestAvoidBuggyIPsTurnedOn(t *testing.T) {
	a := New()
	a.SetPools([]eippool.Pool{pool(t, "p", "192.0.2.255-192.0.3.2", asDefault)})
	for _, key := range []string{"a", "b"} {
		if _, err := a.Allocate(req(key)); err != nil {
			t.Fatal(err)
		}
	}
	a.SetPools([]eippool.Pool{pool(t, "p", "192.0.2.255-192.0.3.2", asDefault, avoidBuggy)})
	for key, want := range map[string]string{"a": "192.0.2.255", "b": "192.0.3.0"} {
		got, err := a.Allocate(req(key))
		if err != nil || len(got) != 1 || got[0].String() != want {
			t.Fatalf("%s: %v, %v; want %s kept", key, got, err, want)
		}
	}
	if got := a.Unusable("p"); len(got) != 2 || got[0].String() != "192.0.2.255" || got[1].String() != "192.0.3.0" {
		t.Fatalf("Unusable = %v, want [192.0.2.255 192.0.3.0]", got)
	}
	if a.InUse("p") != 2 || a.Full("p") {
		t.Fatalf("InUse = %d, Full = %v; want 2 and not full", a.InUse("p"), a.Full("p"))
	}
	for _, want := range []string{"192.0.3.1", "192.0.3.2"} {
		if got, err := a.Allocate(req("d" + want)); err != nil || got[0].String() != want {
			t.Fatalf("d%s: %v, %v; want %s", want, got, err, want)
		}
	}
	a.Release("ns/a")
	if !a.Full("p") {
		t.Fatal("p not full after releasing 192.0.2.255, which it does not hand out")
	}
	if _, err := a.Allocate(req("e")); ReasonOf(err) != ReasonPoolExhausted {
		t.Fatalf("e: %v, want %s", err, ReasonPoolExhausted)
	}
}
