package eippool

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/internal/iprange"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// aged is an Eip created at t0 plus minutes.
func aged(minutes int, name string, spec v1alpha2.EipSpec, mutate ...func(*v1alpha2.Eip)) v1alpha2.Eip {
	e := eip(name, spec)
	e.CreationTimestamp = metav1.NewTime(t0.Add(time.Duration(minutes) * time.Minute))
	for _, m := range mutate {
		m(e)
	}
	return *e
}

func isDefault(e *v1alpha2.Eip) {
	e.Annotations = map[string]string{v1alpha2.AnnotationDefaultEip: "true"}
}
func notDefault(e *v1alpha2.Eip) {
	e.Annotations = map[string]string{v1alpha2.AnnotationDefaultEip: "false"}
}
func deleting(e *v1alpha2.Eip) { e.DeletionTimestamp = &metav1.Time{Time: t0.Add(time.Hour)} }

func v4(address string) v1alpha2.EipSpec { return v1alpha2.EipSpec{Address: address} }
func l2(address string) v1alpha2.EipSpec {
	return v1alpha2.EipSpec{Address: address, Protocol: v1alpha2.ProtocolLayer2, Interface: "eth0"}
}

// TestAccept: which Eips count, in every input order. wantProblems holds
// a part of each problem's text.
func TestAccept(t *testing.T) {
	tests := []struct {
		name         string
		eips         []v1alpha2.Eip
		wantPools    []string // names, oldest first
		wantProblems map[string]string
	}{
		{name: "none"},
		{
			name: "disjoint pools of both families all count, oldest first",
			eips: []v1alpha2.Eip{
				aged(2, "c", v4("2001:db8::/120")),
				aged(1, "b", l2("198.51.100.0/24")),
				aged(0, "a", v4("192.0.2.0/24")),
			},
			wantPools: []string{"a", "b", "c"},
		},
		{
			name:         "v4 overlap: the older wins although its name sorts last",
			eips:         []v1alpha2.Eip{aged(0, "z-old", v4("192.0.2.0/24")), aged(1, "a-new", l2("192.0.2.0/28"))},
			wantPools:    []string{"z-old"},
			wantProblems: map[string]string{"a-new": `overlaps Eip "z-old" (192.0.2.0/24)`},
		},
		{
			name:         "v6 overlap: the older wins",
			eips:         []v1alpha2.Eip{aged(0, "z-old", l2("2001:db8::/120")), aged(1, "a-new", v4("2001:db8::/64"))},
			wantPools:    []string{"z-old"},
			wantProblems: map[string]string{"a-new": `overlaps Eip "z-old" (2001:db8::/120)`},
		},
		{
			name:         "same creation second: the first name wins",
			eips:         []v1alpha2.Eip{aged(0, "b", v4("192.0.2.0/24")), aged(0, "a", v4("192.0.2.128-192.0.2.255"))},
			wantPools:    []string{"a"},
			wantProblems: map[string]string{"b": `overlaps Eip "a"`},
		},
		{
			name:      "v4 and v6 never overlap, even with the same bits",
			eips:      []v1alpha2.Eip{aged(0, "a", v4("::c000:200/120")), aged(1, "b", v4("192.0.2.0/24"))},
			wantPools: []string{"a", "b"},
		},
		{
			name: "an invalid older Eip is left out and blocks nothing",
			eips: []v1alpha2.Eip{
				aged(0, "bad", v1alpha2.EipSpec{Address: "192.0.2.0/24", Protocol: "ospf"}),
				aged(1, "good", v4("192.0.2.0/25")),
				aged(2, "noaddr", v4("192.0.2.300")),
			},
			wantPools: []string{"good"},
			wantProblems: map[string]string{
				"bad":    `eip "bad": spec.protocol: Unsupported value: "ospf"`,
				"noaddr": `eip "noaddr": spec.address: Invalid value: "192.0.2.300"`,
			},
		},
		{
			name: "an Eip left out blocks nothing: a chain keeps its ends",
			eips: []v1alpha2.Eip{
				aged(0, "a", v4("192.0.2.0-192.0.2.10")),
				aged(1, "b", v4("192.0.2.10-192.0.2.20")),
				aged(2, "c", v4("192.0.2.20-192.0.2.30")),
			},
			wantPools:    []string{"a", "c"},
			wantProblems: map[string]string{"b": `overlaps Eip "a"`},
		},
		{
			name: "overlapping two accepted Eips names both",
			eips: []v1alpha2.Eip{
				aged(0, "a", v4("192.0.2.0/25")),
				aged(1, "b", v4("192.0.2.128/25")),
				aged(2, "all", v4("192.0.2.0/24")),
			},
			wantPools:    []string{"a", "b"},
			wantProblems: map[string]string{"all": `overlaps Eip "a" (192.0.2.0/25); pools must not share addresses, spec.address: Invalid value: "192.0.2.0/24": overlaps Eip "b"`},
		},
		{
			name: "a second default pool of a family loses, one per family counts",
			eips: []v1alpha2.Eip{
				aged(0, "d4", v4("192.0.2.0/24"), isDefault),
				aged(1, "d6", v4("2001:db8::/120"), isDefault),
				aged(2, "d4-again", v4("198.51.100.0/24"), isDefault),
				aged(3, "d6-again", l2("2001:db8:1::/120"), isDefault),
				aged(4, "not-default", v4("203.0.113.0/24"), notDefault),
			},
			wantPools: []string{"d4", "d6", "not-default"},
			wantProblems: map[string]string{
				"d4-again": `Eip "d4" is already the default IPv4 pool`,
				"d6-again": `Eip "d6" is already the default IPv6 pool`,
			},
		},
		{
			name: "a default pool left out for an overlap does not take the default",
			eips: []v1alpha2.Eip{
				aged(0, "a", v4("192.0.2.0/24")),
				aged(1, "b", v4("192.0.2.0/28"), isDefault),
				aged(2, "c", v4("198.51.100.0/24"), isDefault),
			},
			wantPools:    []string{"a", "c"},
			wantProblems: map[string]string{"b": `overlaps Eip "a"`},
		},
		{
			name: "an older Eip being deleted or disabled still counts",
			eips: []v1alpha2.Eip{
				aged(0, "going", v4("192.0.2.0/24"), deleting),
				aged(1, "off", v1alpha2.EipSpec{Address: "2001:db8::/64", Disable: true}),
				aged(2, "v4-new", v4("192.0.2.0/28")),
				aged(3, "v6-new", v4("2001:db8::1")),
			},
			wantPools: []string{"going", "off"},
			wantProblems: map[string]string{
				"v4-new": `overlaps Eip "going"`,
				"v6-new": `overlaps Eip "off"`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, in := range permutations(tt.eips) {
				before := deepCopies(in)
				pools, problems := Accept(in)
				var names []string
				for _, p := range pools {
					names = append(names, p.Name)
				}
				if diff := cmp.Diff(tt.wantPools, names); diff != "" {
					t.Fatalf("input %s: pools (-want +got):\n%s", order(in), diff)
				}
				if diff := cmp.Diff(keys(tt.wantProblems), keys(problems)); diff != "" {
					t.Fatalf("input %s: problems for (-want +got):\n%s", order(in), diff)
				}
				for name, want := range tt.wantProblems {
					if !strings.Contains(problems[name], want) {
						t.Errorf("input %s: problem of %s = %q, want it to contain %q", order(in), name, problems[name], want)
					}
				}
				wantPools, wantProblems := buildPoolsBefore(in)
				if diff := cmp.Diff(wantPools, pools, cmpPools); diff != "" {
					t.Errorf("input %s: pools differ from the controller's rule before Accept (-before +Accept):\n%s", order(in), diff)
				}
				if diff := cmp.Diff(wantProblems, problems); diff != "" {
					t.Errorf("input %s: problems differ from the controller's rule before Accept (-before +Accept):\n%s", order(in), diff)
				}
				if diff := cmp.Diff(before, in, cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("input %s: Accept wrote to its input (-before +after):\n%s", order(in), diff)
				}
			}
		})
	}
}

// TestAcceptPoolsNeverOverlap: whatever Eips come in, no address is in
// two accepted pools, so each has one Eip on both sides.
func TestAcceptPoolsNeverOverlap(t *testing.T) {
	addresses := []string{"192.0.2.0/24", "192.0.2.0/28", "192.0.2.8-192.0.2.40", "192.0.2.255", "2001:db8::/64", "2001:db8::/120", "2001:db8::ff"}
	var eips []v1alpha2.Eip
	for i, a := range addresses {
		eips = append(eips, aged(i%3, string(rune('a'+i)), v4(a)))
	}
	for _, in := range permutations(eips[:5]) {
		in = append(in, eips[5:]...)
		pools, _ := Accept(in)
		for i := range pools {
			for j := range i {
				if pools[i].Range.Overlaps(pools[j].Range) {
					t.Fatalf("input %s: accepted %s and %s overlap", order(in), pools[i].Name, pools[j].Name)
				}
			}
		}
	}
}

// TestAcceptMatchesTheControllersRule compares Accept with the
// controller's rule before it (buildPoolsBefore) on random sets of Eips
// crowded into a few addresses of both families, so that ranges nest,
// touch and chain, with ties in age and default pools.
func TestAcceptMatchesTheControllersRule(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 2))
	addr := func(v6 bool, n int) string {
		if v6 {
			return "2001:db8::" + strconv.FormatInt(int64(n), 16)
		}
		return "192.0.2." + strconv.Itoa(n)
	}
	for round := range 3000 {
		var eips []v1alpha2.Eip
		for i := range 1 + rng.IntN(8) {
			v6 := rng.IntN(3) == 0
			first := rng.IntN(40)
			address := addr(v6, first)
			if rng.IntN(4) > 0 {
				address += "-" + addr(v6, first+rng.IntN(12))
			}
			var mutate []func(*v1alpha2.Eip)
			if rng.IntN(4) == 0 {
				mutate = append(mutate, isDefault)
			}
			if rng.IntN(10) == 0 {
				address = "nonsense"
			}
			eips = append(eips, aged(rng.IntN(4), "e"+strconv.Itoa(i), v4(address), mutate...))
		}
		wantPools, wantProblems := buildPoolsBefore(eips)
		pools, problems := Accept(eips)
		if diff := cmp.Diff(wantPools, pools, cmpPools); diff != "" {
			t.Fatalf("round %d, %v: pools (-before +Accept):\n%s", round, eips, diff)
		}
		if diff := cmp.Diff(wantProblems, problems); diff != "" {
			t.Fatalf("round %d, %v: problems (-before +Accept):\n%s", round, eips, diff)
		}
	}
}

// buildPoolsBefore is the controller's buildPools as it was before
// Accept replaced it (controllers/pools.go), kept as the oracle that
// Accept decides exactly as the controller always has.
func buildPoolsBefore(eips []v1alpha2.Eip) ([]Pool, map[string]string) {
	sorted := slices.Clone(eips)
	slices.SortFunc(sorted, func(a, b v1alpha2.Eip) int {
		if c := a.CreationTimestamp.Compare(b.CreationTimestamp.Time); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	var (
		pools    []Pool
		accepted []v1alpha2.Eip
		problems = map[string]string{}
	)
	for i := range sorted {
		e := &sorted[i]
		p, err := FromEip(e)
		if err != nil {
			problems[e.Name] = err.Error()
			continue
		}
		if errs := Conflicts(e, accepted); len(errs) > 0 {
			problems[e.Name] = errs.ToAggregate().Error()
			continue
		}
		pools = append(pools, p)
		accepted = append(accepted, *e)
	}
	return pools, problems
}

var cmpPools = cmp.Options{
	cmpopts.EquateComparable(netip.Addr{}),
	cmp.Comparer(func(a, b iprange.Range) bool { return a == b }),
	cmp.Comparer(func(a, b labels.Selector) bool {
		return (a == nil) == (b == nil) && (a == nil || a.String() == b.String())
	}),
}

// permutations returns every order of eips (n! of them; keep n small).
func permutations(eips []v1alpha2.Eip) [][]v1alpha2.Eip {
	if len(eips) <= 1 {
		return [][]v1alpha2.Eip{slices.Clone(eips)}
	}
	var out [][]v1alpha2.Eip
	for i := range eips {
		rest := slices.Concat(eips[:i:i], eips[i+1:])
		for _, p := range permutations(rest) {
			out = append(out, append([]v1alpha2.Eip{eips[i]}, p...))
		}
	}
	return out
}

func deepCopies(eips []v1alpha2.Eip) []v1alpha2.Eip {
	out := make([]v1alpha2.Eip, len(eips))
	for i := range eips {
		eips[i].DeepCopyInto(&out[i])
	}
	return out
}

func order(eips []v1alpha2.Eip) string {
	var names []string
	for _, e := range eips {
		names = append(names, e.Name)
	}
	return "[" + strings.Join(names, " ") + "]"
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// BenchmarkAccept is the cost the speaker pays on every reconcile for
// deciding like the controller, next to FromEip alone (what it paid
// before): 100 disjoint Eips, the worst case for the overlap checks.
func BenchmarkAccept(b *testing.B) {
	var eips []v1alpha2.Eip
	for i := range 100 {
		eips = append(eips, aged(i%7, "pool-"+strconv.Itoa(i), v4(netip.AddrFrom4([4]byte{10, byte(i), 0, 0}).String()+"/24")))
	}
	b.Run("Accept", func(b *testing.B) {
		for b.Loop() {
			Accept(eips)
		}
	})
	b.Run("FromEip", func(b *testing.B) {
		for b.Loop() {
			var pools []Pool
			for i := range eips {
				if p, err := FromEip(&eips[i]); err == nil {
					pools = append(pools, p)
				}
			}
		}
	})
}
