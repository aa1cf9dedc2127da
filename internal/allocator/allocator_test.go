package allocator

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/internal/eippool"
)

func pool(t testing.TB, name, address string, mutate ...func(*v1alpha2.Eip)) eippool.Pool {
	t.Helper()
	e := &v1alpha2.Eip{ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{}}, Spec: v1alpha2.EipSpec{Address: address}}
	for _, m := range mutate {
		m(e)
	}
	p, err := eippool.FromEip(e)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func asDefault(e *v1alpha2.Eip) { e.Annotations[v1alpha2.AnnotationDefaultEip] = "true" }
func disabled(e *v1alpha2.Eip)  { e.Spec.Disable = true }
func priority(n int) func(*v1alpha2.Eip) {
	return func(e *v1alpha2.Eip) { e.Spec.Priority = n }
}
func namespaces(ns ...string) func(*v1alpha2.Eip) {
	return func(e *v1alpha2.Eip) { e.Spec.Namespaces = ns }
}
func nsSelector(k, v string) func(*v1alpha2.Eip) {
	return func(e *v1alpha2.Eip) { e.Spec.NamespaceSelector = map[string]string{k: v} }
}

func addrs(ss ...string) []netip.Addr {
	var out []netip.Addr
	for _, s := range ss {
		out = append(out, netip.MustParseAddr(s))
	}
	return out
}

func req(key string, mutate ...func(*Request)) Request {
	r := Request{Key: "ns/" + key, Namespace: "ns", Families: []Family{IPv4}, ClusterTraffic: true,
		Ports: []Port{{Port: 80, Protocol: "TCP"}}}
	for _, m := range mutate {
		m(&r)
	}
	return r
}

func named(p ...string) func(*Request) { return func(r *Request) { r.Pools = p } }
func wants(a ...string) func(*Request) { return func(r *Request) { r.Addresses = addrs(a...) } }
func inNS(ns string, labels map[string]string) func(*Request) {
	return func(r *Request) { r.Namespace, r.NamespaceLabels = ns, labels; r.Key = ns + "/" + r.Key[len("ns/"):] }
}
func port(p int32) func(*Request) {
	return func(r *Request) { r.Ports = []Port{{Port: p, Protocol: "TCP"}} }
}
func local(sel string) func(*Request) {
	return func(r *Request) { r.ClusterTraffic, r.Selector = false, sel }
}
func families(f ...Family) func(*Request) { return func(r *Request) { r.Families = f } }
func requireAll(r *Request)               { r.RequireAllFamilies = true }

func TestAllocatePoolChoice(t *testing.T) {
	type step struct {
		req    Request
		want   []string
		reason Reason
	}
	tests := []struct {
		name  string
		pools func(t *testing.T) []eippool.Pool
		steps []step
	}{
		{
			name: "named eip wins over default",
			pools: func(t *testing.T) []eippool.Pool {
				return []eippool.Pool{pool(t, "def", "192.0.2.0/30", asDefault), pool(t, "other", "198.51.100.0/30")}
			},
			steps: []step{{req: req("a", named("other")), want: []string{"198.51.100.0"}}},
		},
		{
			name:  "default when nothing bound; every CIDR address usable in order",
			pools: func(t *testing.T) []eippool.Pool { return []eippool.Pool{pool(t, "def", "192.0.2.0/31", asDefault)} },
			steps: []step{
				{req: req("a"), want: []string{"192.0.2.0"}},
				{req: req("b"), want: []string{"192.0.2.1"}},
				{req: req("c"), reason: ReasonPoolExhausted},
			},
		},
		{
			name:  "unbound non-default eip never picked automatically",
			pools: func(t *testing.T) []eippool.Pool { return []eippool.Pool{pool(t, "free", "192.0.2.0/30")} },
			steps: []step{{req: req("a"), reason: ReasonNoPool}},
		},
		{
			name: "bound beats default; lowest priority first; not-full first",
			pools: func(t *testing.T) []eippool.Pool {
				return []eippool.Pool{
					pool(t, "def", "192.0.2.0/30", asDefault),
					pool(t, "p5", "198.51.100.0/32", namespaces("ns"), priority(5)),
					pool(t, "p1", "203.0.113.0/32", nsSelector("team", "a"), priority(1)),
				}
			},
			steps: []step{
				{req: req("a", inNS("ns", map[string]string{"team": "a"})), want: []string{"203.0.113.0"}},
				{req: req("b", inNS("ns", map[string]string{"team": "a"})), want: []string{"198.51.100.0"}},
				{req: req("c", inNS("ns", map[string]string{"team": "a"})), reason: ReasonPoolExhausted},
				{req: req("d", inNS("other", nil)), want: []string{"192.0.2.0"}},
			},
		},
		{
			name: "disabled eip hands out nothing new",
			pools: func(t *testing.T) []eippool.Pool {
				return []eippool.Pool{pool(t, "off", "192.0.2.0/30", asDefault, disabled)}
			},
			steps: []step{
				{req: req("a"), reason: ReasonPoolExhausted},
				{req: req("b", named("off")), reason: ReasonEipDisabled},
				{req: req("c", wants("192.0.2.1")), reason: ReasonEipDisabled},
			},
		},
		{
			name: "named eip errors",
			pools: func(t *testing.T) []eippool.Pool {
				return []eippool.Pool{pool(t, "mine", "192.0.2.0/30", namespaces("team-a")), pool(t, "v6", "2001:db8::/126")}
			},
			steps: []step{
				{req: req("a", named("missing")), reason: ReasonEipNotFound},
				{req: req("b", named("mine")), reason: ReasonNamespaceNotAdmitted},
				{req: req("c", named("v6")), reason: ReasonFamilyMismatch},
				{req: req("d", named("mine"), inNS("team-a", nil)), want: []string{"192.0.2.0"}},
			},
		},
		{
			name: "requested address",
			pools: func(t *testing.T) []eippool.Pool {
				return []eippool.Pool{pool(t, "p", "192.0.2.0/29", asDefault), pool(t, "q", "198.51.100.0/30")}
			},
			steps: []step{
				{req: req("a", wants("192.0.2.5")), want: []string{"192.0.2.5"}},
				{req: req("b", wants("203.0.113.1")), reason: ReasonIPOutsideEips},
				{req: req("c", wants("192.0.2.5"), named("q")), reason: ReasonIPOutsideEips},
				{req: req("d"), want: []string{"192.0.2.0"}},
				{req: req("e", wants("192.0.2.0")), reason: ReasonIPInUse},
				{req: req("f", wants("198.51.100.1")), want: []string{"198.51.100.1"}},
			},
		},
		{
			name:  "sharing: disjoint ports and cluster traffic share; clashes refused",
			pools: func(t *testing.T) []eippool.Pool { return []eippool.Pool{pool(t, "p", "192.0.2.0/29")} },
			steps: []step{
				{req: req("http", wants("192.0.2.1"), port(80)), want: []string{"192.0.2.1"}},
				{req: req("https", wants("192.0.2.1"), port(443)), want: []string{"192.0.2.1"}},
				{req: req("clash", wants("192.0.2.1"), port(443)), reason: ReasonIPInUse},
				{req: req("other-ns", wants("192.0.2.1"), port(8080), inNS("x", nil)), reason: ReasonIPInUse},
				{req: req("local", wants("192.0.2.1"), port(9090), local("app=web")), reason: ReasonIPInUse},
			},
		},
		{
			name:  "sharing with local traffic needs identical selectors",
			pools: func(t *testing.T) []eippool.Pool { return []eippool.Pool{pool(t, "p", "192.0.2.0/29")} },
			steps: []step{
				{req: req("a", wants("192.0.2.1"), port(80), local("app=web")), want: []string{"192.0.2.1"}},
				{req: req("b", wants("192.0.2.1"), port(81), local("app=web")), want: []string{"192.0.2.1"}},
				{req: req("c", wants("192.0.2.1"), port(82), local("app=db")), reason: ReasonIPInUse},
			},
		},
		{
			name: "dual stack",
			pools: func(t *testing.T) []eippool.Pool {
				return []eippool.Pool{pool(t, "v4", "192.0.2.0/30", asDefault), pool(t, "v6", "2001:db8::/126", asDefault)}
			},
			steps: []step{
				{req: req("both", families(IPv6, IPv4)), want: []string{"2001:db8::", "192.0.2.0"}},
				{req: req("v6only", families(IPv6)), want: []string{"2001:db8::1"}},
				{req: req("named", families(IPv4, IPv6), named("v4", "v6")), want: []string{"192.0.2.1", "2001:db8::2"}},
				{req: req("req", families(IPv4, IPv6), wants("192.0.2.3", "2001:db8::3")), want: []string{"192.0.2.3", "2001:db8::3"}},
			},
		},
		{
			name:  "prefer dual stack with only one family's pool",
			pools: func(t *testing.T) []eippool.Pool { return []eippool.Pool{pool(t, "v4", "192.0.2.0/30", asDefault)} },
			steps: []step{
				{req: req("prefer", families(IPv4, IPv6)), want: []string{"192.0.2.0"}},
				{req: req("require", families(IPv4, IPv6), requireAll), reason: ReasonNoPool},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := New()
			a.SetPools(tt.pools(t))
			for i, s := range tt.steps {
				got, err := a.Allocate(s.req)
				if reason := ReasonOf(err); reason != s.reason {
					t.Fatalf("step %d (%s): reason = %q (%v), want %q", i, s.req.Key, reason, err, s.reason)
				}
				if s.reason != "" {
					continue
				}
				if diff := cmp.Diff(addrs(s.want...), got, cmp.Comparer(func(x, y netip.Addr) bool { return x == y })); diff != "" {
					t.Fatalf("step %d (%s): addresses (-want +got):\n%s", i, s.req.Key, diff)
				}
			}
		})
	}
}

func TestStability(t *testing.T) {
	a := New()
	a.SetPools([]eippool.Pool{pool(t, "p", "192.0.2.0/29", asDefault), pool(t, "q", "198.51.100.0/30")})
	first, _ := a.Allocate(req("a"))
	second, _ := a.Allocate(req("b"))

	// Other Services' deletion and pool edits move nothing.
	a.Release("ns/a")
	a.SetPools([]eippool.Pool{pool(t, "p", "192.0.2.0/28", asDefault, disabled), pool(t, "q", "198.51.100.0/30")})
	if got, _ := a.Allocate(req("b")); got[0] != second[0] {
		t.Fatalf("b moved from %v to %v", second, got)
	}
	// A failed change of request keeps the old address.
	got, err := a.Allocate(req("b", named("missing")))
	if ReasonOf(err) != ReasonEipNotFound || len(got) != 1 || got[0] != second[0] {
		t.Fatalf("failed re-request = %v, %v; want %v kept", got, err, second)
	}
	// A successful change moves it, and frees the old one.
	got, err = a.Allocate(req("b", named("q")))
	if err != nil || got[0].String() != "198.51.100.0" {
		t.Fatalf("re-request = %v, %v", got, err)
	}
	if len(a.Holders(second[0])) != 0 {
		t.Fatalf("%v still held after b moved", second[0])
	}
	// Released addresses are reused lowest first.
	a.SetPools([]eippool.Pool{pool(t, "p", "192.0.2.0/28", asDefault), pool(t, "q", "198.51.100.0/30")})
	if got, _ := a.Allocate(req("c")); got[0] != first[0] {
		t.Fatalf("c got %v, want lowest free %v", got, first)
	}
}

func TestRestore(t *testing.T) {
	a := New()
	a.SetPools([]eippool.Pool{pool(t, "p", "192.0.2.0/30", asDefault)})
	if err := a.Restore(req("old"), addrs("192.0.2.1")); err != nil {
		t.Fatal(err)
	}
	if err := a.Restore(req("dup"), addrs("192.0.2.1")); ReasonOf(err) != ReasonAddressConflict {
		t.Fatalf("restoring a held address: %v, want %s", err, ReasonAddressConflict)
	}
	if err := a.Restore(req("orphan"), addrs("203.0.113.9")); err != nil {
		t.Fatalf("restoring an address outside every pool: %v", err)
	}
	got, _ := a.Allocate(req("new"))
	if got[0].String() != "192.0.2.0" {
		t.Fatalf("new got %v", got)
	}
	got, _ = a.Allocate(req("new2"))
	if got[0].String() != "192.0.2.2" {
		t.Fatalf("new2 got %v, want 192.0.2.2 (192.0.2.1 restored)", got)
	}
	if a.InUse("p") != 3 {
		t.Fatalf("InUse = %d, want 3", a.InUse("p"))
	}
	if got, _ := a.Allocate(req("orphan")); got[0].String() != "203.0.113.9" {
		t.Fatalf("orphan moved to %v", got)
	}
}
