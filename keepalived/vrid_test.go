package keepalived

import (
	"errors"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func addrs(ss ...string) []netip.Addr {
	out := make([]netip.Addr, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParseAddr(s)
	}
	return out
}

func vrids(kv ...any) map[netip.Addr]VRID {
	m := map[netip.Addr]VRID{}
	for i := 0; i < len(kv); i += 2 {
		m[netip.MustParseAddr(kv[i].(string))] = VRID(kv[i+1].(int))
	}
	return m
}

func TestAssignVRIDs(t *testing.T) {
	small := NewVRIDPool(VRIDSpan{10, 12}, nil)
	tests := []struct {
		name      string
		inUse     []netip.Addr
		current   map[netip.Addr]VRID
		pool      VRIDPool
		want      map[netip.Addr]VRID
		exhausted []netip.Addr
	}{
		{name: "nothing", pool: DefaultVRIDPool(), want: vrids()},
		{name: "new get the lowest, per family",
			inUse: addrs("192.0.2.2", "2001:db8::1", "192.0.2.1"), pool: DefaultVRIDPool(),
			want: vrids("192.0.2.1", 1, "192.0.2.2", 2, "2001:db8::1", 1)},
		{name: "existing kept, new fill the gaps",
			inUse: addrs("192.0.2.1", "192.0.2.2", "192.0.2.3"), current: vrids("192.0.2.2", 1, "192.0.2.3", 7), pool: DefaultVRIDPool(),
			want: vrids("192.0.2.1", 2, "192.0.2.2", 1, "192.0.2.3", 7)},
		{name: "addresses gone free their VRIDs",
			inUse: addrs("192.0.2.9"), current: vrids("192.0.2.1", 1, "192.0.2.2", 2), pool: DefaultVRIDPool(),
			want: vrids("192.0.2.9", 1)},
		{name: "duplicate: the lower address keeps it",
			inUse: addrs("192.0.2.5", "192.0.2.4"), current: vrids("192.0.2.5", 3, "192.0.2.4", 3), pool: DefaultVRIDPool(),
			want: vrids("192.0.2.4", 3, "192.0.2.5", 1)},
		{name: "same VRID in both families is no duplicate",
			inUse: addrs("192.0.2.1", "2001:db8::1"), current: vrids("192.0.2.1", 9, "2001:db8::1", 9), pool: DefaultVRIDPool(),
			want: vrids("192.0.2.1", 9, "2001:db8::1", 9)},
		{name: "outside the range or excluded: reassigned",
			inUse: addrs("192.0.2.1", "192.0.2.2", "192.0.2.3"), current: vrids("192.0.2.1", 5, "192.0.2.2", 11, "192.0.2.3", 0),
			pool: NewVRIDPool(VRIDSpan{10, 20}, []VRIDSpan{{11, 11}}),
			want: vrids("192.0.2.1", 10, "192.0.2.2", 12, "192.0.2.3", 13)},
		{name: "IPv4-mapped is IPv4, stored form honoured",
			inUse: addrs("::ffff:192.0.2.1", "192.0.2.1"), current: vrids("::ffff:192.0.2.1", 4), pool: DefaultVRIDPool(),
			want: vrids("192.0.2.1", 4)},
		{name: "exhausted: existing kept, the rest named",
			inUse: addrs("192.0.2.4", "192.0.2.3", "192.0.2.2", "192.0.2.1", "2001:db8::1"), current: vrids("192.0.2.4", 12), pool: small,
			want:      vrids("192.0.2.1", 10, "192.0.2.2", 11, "192.0.2.4", 12, "2001:db8::1", 10),
			exhausted: addrs("192.0.2.3")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := AssignVRIDs(tt.inUse, tt.current, tt.pool)
			if diff := cmp.Diff(tt.want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
				t.Errorf("AssignVRIDs (-want +got):\n%s", diff)
			}
			var ex *ExhaustedError
			switch {
			case tt.exhausted == nil && err != nil:
				t.Errorf("AssignVRIDs error: %v", err)
			case tt.exhausted != nil && (!errors.As(err, &ex) || !errors.Is(err, ErrVRIDsExhausted)):
				t.Errorf("AssignVRIDs error = %v, want an ExhaustedError", err)
			case tt.exhausted != nil:
				if diff := cmp.Diff(tt.exhausted, ex.Addrs, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
					t.Errorf("addresses left out (-want +got):\n%s", diff)
				}
				if ex.PoolSize != tt.pool.Size() {
					t.Errorf("PoolSize = %d, want %d", ex.PoolSize, tt.pool.Size())
				}
			}
		})
	}
}

func TestExhaustedErrorMessage(t *testing.T) {
	_, err := AssignVRIDs(addrs("192.0.2.1", "192.0.2.2", "192.0.2.3"), nil, NewVRIDPool(VRIDSpan{1, 1}, nil))
	want := "vrid pool exhausted: the pool serves 1 VIPs per address family; no VRID for 192.0.2.2, 192.0.2.3"
	if err == nil || err.Error() != want {
		t.Errorf("error = %v, want %q", err, want)
	}
}

// TestAssignVRIDsProperties runs random histories: addresses come and go,
// the controller restarts (shuffled input), operators hand-edit VRIDs and
// change exclusions.
func TestAssignVRIDsProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for round := range 500 {
		pool := randomPool(r)
		inUse := randomAddrs(r, r.IntN(2*pool.Size()+2))
		var members []VRID
		for v := range 256 {
			if pool.Contains(VRID(v)) {
				members = append(members, VRID(v))
			}
		}
		current := map[netip.Addr]VRID{}
		for _, a := range inUse {
			switch r.IntN(4) {
			case 0:
				current[a] = VRID(r.IntN(256)) // hand edits: anything, 0 too
			case 1:
				if len(members) == 0 {
					continue // an empty pool: everything is left out
				}
				current[a] = members[r.IntN(min(len(members), 3))] // duplicates
			}
		}
		got, err := AssignVRIDs(inUse, current, pool)

		// No two addresses of a family share a VRID; every VRID is in the pool.
		var used [2]map[VRID]netip.Addr
		used[0], used[1] = map[VRID]netip.Addr{}, map[VRID]netip.Addr{}
		for a, v := range got {
			if !pool.Contains(v) {
				t.Fatalf("round %d: %s got %d, outside the pool", round, a, v)
			}
			if other, dup := used[family(a)][v]; dup {
				t.Fatalf("round %d: %s and %s share VRID %d", round, a, other, v)
			}
			used[family(a)][v] = a
		}
		// Every address in use got one, or is named in the error.
		var left []netip.Addr
		var ex *ExhaustedError
		if errors.As(err, &ex) {
			left = ex.Addrs
		} else if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		for _, a := range inUse {
			a = a.Unmap()
			_, assigned := got[a]
			if named := slices.Contains(left, a); assigned == named {
				t.Fatalf("round %d: %s assigned=%v, named in the error=%v", round, a, assigned, named)
			}
			if !assigned && len(used[family(a)]) < pool.Size() {
				t.Fatalf("round %d: %s left out while its family has free VRIDs", round, a)
			}
		}
		// A valid existing assignment never changes; of duplicates, the
		// lowest address keeps the VRID.
		for a, v := range current {
			plain := a.Unmap()
			if _, both := current[plain]; both && plain != a {
				continue // the plain form's entry wins; checked on its own
			}
			if !pool.Contains(v) || got[plain] == v {
				continue
			}
			holder, ok := used[family(plain)][v]
			if !ok || !holder.Less(plain) {
				t.Fatalf("round %d: %s moved from valid VRID %d to %d (holder of %d: %v)", round, a, v, got[plain], v, holder)
			}
			if hv, _ := lookupCurrent(current, holder); hv != v {
				t.Fatalf("round %d: %s lost VRID %d to %s, which did not hold it", round, a, v, holder)
			}
		}
		// A fixed point, also after a restart that lists addresses in another order.
		shuffled := slices.Clone(inUse)
		r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		again, _ := AssignVRIDs(shuffled, got, pool)
		if diff := cmp.Diff(got, again, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
			t.Fatalf("round %d: not a fixed point (-first +second):\n%s", round, diff)
		}
		fresh, _ := AssignVRIDs(shuffled, current, pool)
		if diff := cmp.Diff(got, fresh, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
			t.Fatalf("round %d: depends on input order (-first +second):\n%s", round, diff)
		}
	}
}

func randomPool(r *rand.Rand) VRIDPool {
	first := VRID(1 + r.IntN(255))
	last := first + VRID(r.IntN(int(256-int(first))))
	last = min(last, first+VRID(r.IntN(20))) // often small, so it runs out
	var excl []VRIDSpan
	for range r.IntN(3) {
		x := VRID(1 + r.IntN(255))
		excl = append(excl, VRIDSpan{x, x + VRID(r.IntN(int(256-int(x))))/8})
	}
	return NewVRIDPool(VRIDSpan{first, last}, excl)
}

func randomAddrs(r *rand.Rand, n int) []netip.Addr {
	out := make([]netip.Addr, n)
	for i := range out {
		a := randomAddr(r)
		if a.Is4() && r.IntN(10) == 0 {
			a = netip.AddrFrom16(a.As16()) // IPv4-mapped
		}
		out[i] = a
	}
	return out
}
