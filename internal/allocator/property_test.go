package allocator

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/internal/eippool"
)

// TestAllocatorProperties drives the allocator through random creates,
// updates, deletes, restarts (a fresh allocator restored from what the
// Services hold, as the controller does from their status), pool growth,
// shrinkage and disabling, and checks after every step that no address is
// held by two Services that may not share it, that no Service's addresses
// moved unless its own request changed, and that the pools' usage counts
// match the addresses held.
func TestAllocatorProperties(t *testing.T) {
	const steps = 12000
	for _, seed := range []uint64{1, 2, 3} {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			runProperties(t, rand.New(rand.NewPCG(seed, seed*7919)), steps)
		})
	}
}

type model struct {
	t        *testing.T
	rng      *rand.Rand
	alloc    *Allocator
	pools    map[string]*v1alpha2.Eip
	requests map[string]Request // live Services, by key
	order    []string           // creation order, for restore
	held     map[string][]netip.Addr
	// unsatisfied marks Services whose latest request failed: their next
	// successful reconcile may move them, because they asked for it.
	unsatisfied map[string]bool
}

func runProperties(t *testing.T, rng *rand.Rand, steps int) {
	m := &model{t: t, rng: rng, alloc: New(), requests: map[string]Request{}, held: map[string][]netip.Addr{}, unsatisfied: map[string]bool{}}
	m.pools = map[string]*v1alpha2.Eip{
		"def4":  eipOf("def4", "10.0.0.0/28", true, nil),
		"bound": eipOf("bound", "10.0.1.0-10.0.1.5", false, []string{"team-b"}),
		"named": eipOf("named", "10.0.2.0/29", false, nil),
		"def6":  eipOf("def6", "2001:db8::/125", true, nil),
	}
	m.applyPools()

	for i := 0; i < steps; i++ {
		switch op := m.rng.IntN(100); {
		case op < 45:
			m.createOrUpdate(i)
		case op < 60:
			m.reconcileUnchanged()
		case op < 80:
			m.delete()
		case op < 85:
			m.restart()
		case op < 92:
			m.resizePool()
		default:
			m.togglePool()
		}
		m.check(i)
	}
}

func eipOf(name, address string, def bool, ns []string) *v1alpha2.Eip {
	e := &v1alpha2.Eip{Spec: v1alpha2.EipSpec{Address: address, Namespaces: ns}}
	e.Name = name
	if def {
		e.Annotations = map[string]string{v1alpha2.AnnotationDefaultEip: "true"}
	}
	return e
}

func (m *model) applyPools() {
	var ps []eippool.Pool
	for _, e := range m.pools {
		p, err := eippool.FromEip(e)
		if err != nil {
			m.t.Fatal(err)
		}
		ps = append(ps, p)
	}
	m.alloc.SetPools(ps)
}

func (m *model) randomRequest() Request {
	ns := []string{"team-a", "team-b"}[m.rng.IntN(2)]
	r := Request{
		Key:            fmt.Sprintf("%s/svc-%d", ns, m.rng.IntN(30)),
		Namespace:      ns,
		Families:       []Family{IPv4},
		ClusterTraffic: m.rng.IntN(4) != 0,
		Selector:       []string{"app=a", "app=b"}[m.rng.IntN(2)],
		Ports:          []Port{{Port: int32(80 + m.rng.IntN(4)), Protocol: "TCP"}},
		SharingKey:     []string{"", "", "k1", "k2"}[m.rng.IntN(4)],
	}
	switch k := m.rng.IntN(10); {
	case k < 2:
		r.Families = []Family{IPv4, IPv6}
		r.RequireAllFamilies = m.rng.IntN(2) == 0
	case k < 3:
		r.Families = []Family{IPv6}
	case k < 5:
		r.Pools = []string{[]string{"named", "bound", "def4", "missing"}[m.rng.IntN(4)]}
	case k < 7:
		r.Addresses = []netip.Addr{netip.MustParseAddr(fmt.Sprintf("10.0.%d.%d", m.rng.IntN(3), m.rng.IntN(8)))}
	}
	return r
}

func (m *model) createOrUpdate(step int) {
	r := m.randomRequest()
	before := m.held[r.Key]
	got, err := m.alloc.Allocate(r)
	if _, live := m.requests[r.Key]; !live {
		m.order = append(m.order, r.Key)
	}
	m.requests[r.Key] = r
	if err != nil && !sameSet(got, before) && !(len(got) == 0 && strings.Contains(err.Error(), "gives up")) {
		m.t.Fatalf("step %d: failed allocation for %s changed its addresses %v -> %v: %v", step, r.Key, before, got, err)
	}
	for _, a := range got {
		if !slices.Contains(before, a) && m.poolOf(a) == "" {
			m.t.Fatalf("step %d: %s got %s, which is in no pool", step, r.Key, a)
		}
		if p, ok := m.alloc.Pool(m.poolOf(a)); ok && !slices.Contains(before, a) && !p.Usable(a) {
			m.t.Fatalf("step %d: %s got %s, which Eip %s avoids", step, r.Key, a, p.Name)
		}
	}
	m.held[r.Key] = got
	m.unsatisfied[r.Key] = err != nil
	if trace := os.Getenv("TRACE"); trace != "" && strings.Contains(trace, r.Key) {
		m.t.Logf("step %d: %s %+v -> %v %v", step, r.Key, r, got, err)
	}
}

// reconcileUnchanged re-runs a live Service's unchanged request: the
// controller does this on every resync, and nothing may move.
func (m *model) reconcileUnchanged() {
	key, ok := m.randomLive()
	if !ok {
		return
	}
	got, err := m.alloc.Allocate(m.requests[key])
	before := m.held[key]
	wasUnsatisfied := m.unsatisfied[key]
	m.held[key] = got
	m.unsatisfied[key] = err != nil
	if wasUnsatisfied {
		return
	}
	for _, a := range before {
		if !slices.Contains(got, a) {
			m.t.Fatalf("%s lost %s on an unchanged reconcile: %v -> %v", key, a, before, got)
		}
	}
}

func (m *model) delete() {
	key, ok := m.randomLive()
	if !ok {
		return
	}
	m.alloc.Release(key)
	delete(m.requests, key)
	delete(m.held, key)
	delete(m.unsatisfied, key)
	m.order = slices.DeleteFunc(m.order, func(k string) bool { return k == key })
}

func (m *model) restart() {
	m.alloc = New()
	m.applyPools()
	for _, key := range m.order {
		if len(m.held[key]) == 0 {
			continue
		}
		// Some Services come back as a migration opt-in's: adopted, which
		// may refuse an address outside every pool; the Service then waits
		// to be allocated anew, as the controller does.
		if m.rng.IntN(3) == 0 {
			if err := m.alloc.Adopt(m.requests[key], m.held[key]); err != nil {
				m.held[key], m.unsatisfied[key] = nil, true
			}
			continue
		}
		if err := m.alloc.Restore(m.requests[key], m.held[key]); err != nil {
			m.t.Fatalf("restore %s %v: %v", key, m.held[key], err)
		}
	}
}

// resizePool grows a pool, or shrinks it the way the webhook allows (never
// stranding a held address), or occasionally shrinks it regardless, as if
// the webhook had been bypassed.
func (m *model) resizePool() {
	names := []string{"def4", "bound", "named"}
	e := m.pools[names[m.rng.IntN(len(names))]]
	third := []string{"0", "1", "2"}[slices.Index(names, e.Name)]
	last := m.rng.IntN(16)
	candidate := fmt.Sprintf("10.0.%s.0-10.0.%s.%d", third, third, last)
	newEip := e.DeepCopy()
	newEip.Spec.Address = candidate
	var inPool []netip.Addr
	old, _ := eippool.FromEip(e)
	for _, addrs := range m.held {
		for _, a := range addrs {
			if old.Range.Contains(a) {
				inPool = append(inPool, a)
			}
		}
	}
	if len(eippool.ValidateUpdate(e, newEip, inPool)) > 0 && m.rng.IntN(10) != 0 {
		return
	}
	m.pools[e.Name] = newEip
	m.applyPools()
}

func (m *model) togglePool() {
	names := []string{"def4", "bound", "named", "def6"}
	e := m.pools[names[m.rng.IntN(len(names))]]
	if m.rng.IntN(2) == 0 {
		e.Spec.AvoidBuggyIPs = !e.Spec.AvoidBuggyIPs
	} else {
		e.Spec.Disable = !e.Spec.Disable
	}
	m.applyPools()
}

func (m *model) randomLive() (string, bool) {
	if len(m.order) == 0 {
		return "", false
	}
	return m.order[m.rng.IntN(len(m.order))], true
}

func (m *model) poolOf(a netip.Addr) string {
	for name, e := range m.pools {
		if p, err := eippool.FromEip(e); err == nil && p.Range.Contains(a) {
			return name
		}
	}
	return ""
}

func (m *model) check(step int) {
	byAddr := map[netip.Addr][]string{}
	for key, addrs := range m.held {
		if got := m.alloc.Addresses(key); !sameSet(got, addrs) {
			m.t.Fatalf("step %d: allocator has %v for %s, model %v", step, got, key, addrs)
		}
		for _, a := range addrs {
			byAddr[a] = append(byAddr[a], key)
		}
	}
	for a, keys := range byAddr {
		if len(keys) < 2 {
			continue
		}
		for i := range keys {
			for j := i + 1; j < len(keys); j++ {
				x, y := m.requests[keys[i]], m.requests[keys[j]]
				if x.SharingKey != y.SharingKey {
					m.t.Fatalf("step %d: %s shared by %v with sharing keys %q and %q", step, a, keys, x.SharingKey, y.SharingKey)
				}
				if x.SharingKey == "" && x.Namespace != y.Namespace {
					m.t.Fatalf("step %d: %s shared across namespaces without a sharing key by %v", step, a, keys)
				}
				if _, clash := portsClash(holderOf(x, true).ports, holderOf(y, true).ports); clash {
					m.t.Fatalf("step %d: %s shared by %v with clashing ports", step, a, keys)
				}
				if !(x.ClusterTraffic && y.ClusterTraffic) && x.Selector != y.Selector {
					m.t.Fatalf("step %d: %s shared by %v with local traffic and different selectors", step, a, keys)
				}
			}
		}
	}
	for name := range m.pools {
		p, _ := m.alloc.Pool(name)
		var want, usable uint64
		for a := range byAddr {
			if p.Range.Contains(a) {
				want++
				if p.Usable(a) {
					usable++
				}
			}
		}
		if got := m.alloc.InUse(name); got != want {
			m.t.Fatalf("step %d: pool %s InUse = %d, want %d", step, name, got, want)
		}
		if got := m.alloc.Full(name); got != (usable >= p.UsableSize()) {
			m.t.Fatalf("step %d: pool %s Full = %v with %d of %d usable addresses held", step, name, got, usable, p.UsableSize())
		}
	}
}
