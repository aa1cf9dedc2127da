package allocator

import (
	"strings"
	"testing"

	"github.com/herald-lb/herald/internal/eippool"
)

func key(k string) func(*Request) { return func(r *Request) { r.SharingKey = k } }

// TestSharingKeys: Services with the same sharing key share one address in
// any namespace when their ports are disjoint and their traffic policies
// compatible, joining it without asking for it; a different key, or a key
// against none, is refused with a message naming the holder; OpenELB's
// keyless rule is unchanged.
func TestSharingKeys(t *testing.T) {
	a := New()
	a.SetPools([]eippool.Pool{pool(t, "p", "192.0.2.0/29", asDefault), pool(t, "q", "198.51.100.0/29")})
	steps := []struct {
		req    Request
		want   string
		reason Reason
		text   string
	}{
		{req: req("http", key("web")), want: "192.0.2.0"},
		{req: req("https", key("web"), port(443), inNS("other", nil)), want: "192.0.2.0"},
		{req: req("clash", key("web"), port(443)), want: "192.0.2.1"}, // overlapping ports: a new address
		{req: req("asks", key("web"), port(443), wants("192.0.2.0")), reason: ReasonIPInUse, text: "which also uses 443/TCP"},
		{req: req("stranger", key("db"), port(5432), wants("192.0.2.0")), reason: ReasonIPInUse,
			text: `held by ns/http, which has sharing key "web", and this Service has "db"`},
		{req: req("keyless", port(5432), wants("192.0.2.1")), reason: ReasonIPInUse, text: `which has sharing key "web", and this Service has none`},
		{req: req("local", key("web"), port(8080), local("app=x")), want: "192.0.2.2"},
		{req: req("named", key("web"), port(9090), named("q")), want: "198.51.100.0"},
		{req: req("named2", key("web"), port(9091), named("q"), inNS("x", nil)), want: "198.51.100.0"},
		// OpenELB's rule: keyless, same namespace, both asked for it.
		{req: req("o1", port(80), wants("192.0.2.5")), want: "192.0.2.5"},
		{req: req("o2", port(81), wants("192.0.2.5")), want: "192.0.2.5"},
		{req: req("o3", port(82), wants("192.0.2.5"), key("web")), reason: ReasonIPInUse, text: "which has no sharing key"},
		{req: req("o4", port(83), wants("192.0.2.5"), inNS("x", nil)), reason: ReasonIPInUse, text: "another namespace"},
	}
	for i, s := range steps {
		got, err := a.Allocate(s.req)
		if ReasonOf(err) != s.reason || (err != nil && !strings.Contains(err.Error(), s.text)) {
			t.Fatalf("step %d (%s): %v (%q), want %q containing %q", i, s.req.Key, ReasonOf(err), err, s.reason, s.text)
		}
		if s.want != "" && (len(got) != 1 || got[0].String() != s.want) {
			t.Fatalf("step %d (%s): got %v, want %s", i, s.req.Key, got, s.want)
		}
	}
	// Changing its key makes a sharer give the address up.
	got, err := a.Allocate(req("https", key("api"), port(443), inNS("other", nil)))
	if err != nil || len(got) != 1 || got[0].String() == "192.0.2.0" {
		t.Fatalf("https with a new key: %v, %v; want another address", got, err)
	}
	if h := a.Holders(addrs("192.0.2.0")[0]); len(h) != 1 || h[0] != "ns/http" {
		t.Fatalf("192.0.2.0 held by %v, want [ns/http]", h)
	}
}
