package eipused

import (
	"encoding/base64"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/herald-lb/herald/api/v1alpha2"
)

func addrs(ss ...string) []netip.Addr {
	out := make([]netip.Addr, 0, len(ss))
	for _, s := range ss {
		out = append(out, netip.MustParseAddr(s))
	}
	return out
}

// expand lists every address of spans; only for the small ones tests use.
func expand(t *testing.T, spans []Span) []netip.Addr {
	t.Helper()
	var out []netip.Addr
	for _, s := range spans {
		for a := s.First; ; a = a.Next() {
			out = append(out, a)
			if a == s.Last {
				break
			}
			if len(out) > 1<<20 {
				t.Fatalf("span %v too large to expand", s)
			}
		}
	}
	return out
}

var addrCmp = cmp.Comparer(func(a, b netip.Addr) bool { return a == b })

// TestEncodeDecode: IPv4 and IPv6 rows, what the compact form keeps, what
// it leaves to status.used, and the exact text of small cases (the
// format is an API: other tools may decode it).
func TestEncodeDecode(t *testing.T) {
	for _, tc := range []struct {
		name       string
		base       string
		in         []netip.Addr
		wantRuns   string // "" skips the check
		wantCount  int
		wantRest   []netip.Addr
		wantSpans  int
		wantDecode []netip.Addr
	}{
		{name: "nothing", base: "10.0.0.0", wantRuns: "", wantCount: 0},
		{name: "the base alone", base: "10.0.0.0", in: addrs("10.0.0.0"),
			wantRuns: b64(0, 1), wantCount: 1, wantSpans: 1, wantDecode: addrs("10.0.0.0")},
		{name: "one run, duplicates and disorder", base: "10.0.0.0", in: addrs("10.0.0.2", "10.0.0.1", "10.0.0.2", "10.0.0.3"),
			wantRuns: b64(1, 3), wantCount: 3, wantSpans: 1, wantDecode: addrs("10.0.0.1", "10.0.0.2", "10.0.0.3")},
		{name: "runs across an octet", base: "10.0.0.250", in: addrs("10.0.0.250", "10.0.0.255", "10.0.1.0", "10.0.1.9"),
			wantRuns: b64(0, 1, 4, 2, 8, 1), wantCount: 4, wantSpans: 3, wantDecode: addrs("10.0.0.250", "10.0.0.255", "10.0.1.0", "10.0.1.9")},
		{name: "foreign addresses are left over", base: "10.0.0.8", in: addrs("10.0.0.7", "2001:db8::1", "10.0.0.9"),
			wantRuns: b64(1, 1), wantCount: 1, wantRest: addrs("10.0.0.7", "2001:db8::1"), wantSpans: 1, wantDecode: addrs("10.0.0.9")},
		{name: "ipv4 up to the last address", base: "255.255.255.250", in: addrs("255.255.255.254", "255.255.255.255"),
			wantRuns: b64(4, 2), wantCount: 2, wantSpans: 1, wantDecode: addrs("255.255.255.254", "255.255.255.255")},
		{name: "ipv6", base: "2001:db8::", in: addrs("2001:db8::", "2001:db8::1", "2001:db8::1:0"),
			wantRuns: b64(0, 2, 0xfffe, 1), wantCount: 3, wantSpans: 2, wantDecode: addrs("2001:db8::", "2001:db8::1", "2001:db8::1:0")},
		{name: "ipv6 2^64 after the base is left over", base: "2001:db8::", in: addrs("2001:db8:0:0:ffff:ffff:ffff:ffff", "2001:db8:0:1::"),
			wantRuns: b64(1<<64-1, 1), wantCount: 1, wantRest: addrs("2001:db8:0:1::"), wantSpans: 1, wantDecode: addrs("2001:db8:0:0:ffff:ffff:ffff:ffff")},
		{name: "ipv6 across the 64-bit halves", base: "2001:db8::ffff:ffff:ffff:fffe", in: addrs("2001:db8:0:0:ffff:ffff:ffff:ffff", "2001:db8:0:1::"),
			wantRuns: b64(1, 2), wantCount: 2, wantSpans: 1, wantDecode: addrs("2001:db8:0:0:ffff:ffff:ffff:ffff", "2001:db8:0:1::")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, rest := Encode(netip.MustParseAddr(tc.base), tc.in)
			if c.Base != tc.base || c.Count != tc.wantCount || c.Runs != tc.wantRuns {
				t.Errorf("Encode = %+v, want base %s count %d runs %q", c, tc.base, tc.wantCount, tc.wantRuns)
			}
			if diff := cmp.Diff(tc.wantRest, rest, addrCmp); diff != "" {
				t.Errorf("left over (-want +got):\n%s", diff)
			}
			spans, err := Decode(&c)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if len(spans) != tc.wantSpans {
				t.Errorf("%d spans %v, want %d", len(spans), spans, tc.wantSpans)
			}
			if diff := cmp.Diff(tc.wantDecode, expand(t, spans), addrCmp); diff != "" {
				t.Errorf("decoded (-want +got):\n%s", diff)
			}
			for _, a := range tc.wantDecode {
				if !Contains(spans, a) {
					t.Errorf("Contains(%s) = false", a)
				}
			}
			for _, a := range tc.wantRest {
				if Contains(spans, a) {
					t.Errorf("Contains(left-over %s) = true", a)
				}
			}
		})
	}
}

// b64 is the Runs text of some varints.
func b64(vs ...uint64) string {
	var buf []byte
	for _, v := range vs {
		buf = appendUvarint(buf, v)
	}
	return base64.StdEncoding.EncodeToString(buf)
}

func appendUvarint(buf []byte, v uint64) []byte {
	for v >= 0x80 {
		buf = append(buf, byte(v)|0x80)
		v >>= 7
	}
	return append(buf, byte(v))
}

// TestDecodeRefuses: each way a compact form can be wrong is an
// ErrCorrupt, never a wrong set of addresses.
func TestDecodeRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    v1alpha2.EipUsedCompact
	}{
		{"base is no address", v1alpha2.EipUsedCompact{Base: "10.0.0", Count: 1, Runs: b64(0, 1)}},
		{"zoned base", v1alpha2.EipUsedCompact{Base: "fe80::1%eth0", Count: 1, Runs: b64(0, 1)}},
		{"not base64", v1alpha2.EipUsedCompact{Base: "10.0.0.0", Count: 1, Runs: "!!"}},
		{"unpadded", v1alpha2.EipUsedCompact{Base: "10.0.0.0", Count: 1, Runs: "AAE"}},
		{"padding bits set", v1alpha2.EipUsedCompact{Base: "10.0.0.0", Count: 1, Runs: "AAF="}},
		{"line break", v1alpha2.EipUsedCompact{Base: "10.0.0.0", Count: 1, Runs: "AA\nE="}},
		{"longer varint than needed", v1alpha2.EipUsedCompact{Base: "10.0.0.0", Count: 1, Runs: base64.StdEncoding.EncodeToString([]byte{0x80, 0x00, 0x01})}},
		{"truncated varint", v1alpha2.EipUsedCompact{Base: "10.0.0.0", Count: 1, Runs: base64.StdEncoding.EncodeToString([]byte{0x80})}},
		{"gap without length", v1alpha2.EipUsedCompact{Base: "10.0.0.0", Count: 0, Runs: b64(3)}},
		{"empty run", v1alpha2.EipUsedCompact{Base: "10.0.0.0", Count: 0, Runs: b64(0, 0)}},
		{"runs touch", v1alpha2.EipUsedCompact{Base: "10.0.0.0", Count: 2, Runs: b64(0, 1, 0, 1)}},
		{"count too high", v1alpha2.EipUsedCompact{Base: "10.0.0.0", Count: 3, Runs: b64(0, 2)}},
		{"count too low", v1alpha2.EipUsedCompact{Base: "10.0.0.0", Count: 1, Runs: b64(0, 2)}},
		{"negative count", v1alpha2.EipUsedCompact{Base: "10.0.0.0", Count: -1, Runs: ""}},
		{"past the last ipv4 address", v1alpha2.EipUsedCompact{Base: "255.255.255.255", Count: 2, Runs: b64(0, 2)}},
		{"ipv4 offset past 2^32", v1alpha2.EipUsedCompact{Base: "0.0.0.0", Count: 1, Runs: b64(1<<33, 1)}},
		{"past the last ipv6 address", v1alpha2.EipUsedCompact{Base: "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe", Count: 3, Runs: b64(0, 3)}},
		{"offset past 2^64", v1alpha2.EipUsedCompact{Base: "2001:db8::", Count: 2, Runs: b64(1<<64-1, 1, 1, 1)}},
		{"more than 2^63 addresses", v1alpha2.EipUsedCompact{Base: "::", Count: 1, Runs: b64(0, 1<<63, 1, 1<<62)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spans, err := Decode(&tc.c)
			if !errors.Is(err, ErrCorrupt) {
				t.Errorf("Decode(%+v) = %v, %v; want ErrCorrupt", tc.c, spans, err)
			}
		})
	}
	if spans, err := Decode(nil); spans != nil || err != nil {
		t.Errorf("Decode(nil) = %v, %v; want nothing", spans, err)
	}
}

// TestRoundTripProperty: for random sets of addresses, of every density,
// in IPv4 and IPv6 pools, decoding the encoding gives the set back, the
// encoding of that is the same text (the form is canonical), Contains
// agrees with the set, and an IPv4 address never costs more than 8
// characters.
func TestRoundTripProperty(t *testing.T) {
	rng := rand.New(rand.NewPCG(14, 60000))
	for i := range 200 {
		base := netip.MustParseAddr("10.20.0.0")
		if i%2 == 1 {
			base = netip.MustParseAddr("2001:db8::ffff:ffff:ffff:0")
		}
		span := uint64(1) << (1 + rng.IntN(16))
		density := rng.Float64()
		set := map[netip.Addr]bool{}
		var in []netip.Addr
		for off := uint64(0); off < span; off++ {
			if rng.Float64() < density {
				a, _ := nth(base, off)
				set[a] = true
				in = append(in, a, a) // duplicates count once
			}
		}
		rng.Shuffle(len(in), func(i, j int) { in[i], in[j] = in[j], in[i] })
		c, rest := Encode(base, in)
		if len(rest) != 0 || c.Count != len(set) {
			t.Fatalf("case %d: count %d rest %v, want %d and none", i, c.Count, rest, len(set))
		}
		if base.Is4() && len(c.Runs) > 8*c.Count {
			t.Fatalf("case %d: %d characters for %d addresses", i, len(c.Runs), c.Count)
		}
		spans, err := Decode(&c)
		if err != nil {
			t.Fatalf("case %d: Decode: %v", i, err)
		}
		got := expand(t, spans)
		if len(got) != len(set) {
			t.Fatalf("case %d: decoded %d addresses, want %d", i, len(got), len(set))
		}
		for _, a := range got {
			if !set[a] {
				t.Fatalf("case %d: decoded %s, never encoded", i, a)
			}
		}
		again, _ := Encode(base, got)
		if again != c {
			t.Fatalf("case %d: re-encoding differs: %+v vs %+v", i, again, c)
		}
		for range 50 {
			a, _ := nth(base, rng.Uint64N(span+2))
			if Contains(spans, a) != set[a] {
				t.Fatalf("case %d: Contains(%s) = %v, want %v", i, a, !set[a], set[a])
			}
		}
	}
}

// TestSizeAt60000 records what 60,000 addresses in use cost in a /16,
// laid out as the allocator hands them out (lowest first), at random,
// and in the worst layout (every free address alone between used ones,
// the most runs there can be).
func TestSizeAt60000(t *testing.T) {
	base := netip.MustParseAddr("10.20.0.0")
	const pool, used = 1 << 16, 60000
	layouts := map[string][]uint64{}
	var lowest []uint64
	for off := range uint64(used) {
		lowest = append(lowest, off)
	}
	layouts["lowest first"] = lowest
	perm := rand.New(rand.NewPCG(1, 2)).Perm(pool)
	var random []uint64
	for _, off := range perm[:used] {
		random = append(random, uint64(off))
	}
	layouts["random"] = random
	// 5,536 free addresses, each alone: one every 11 or 12 offsets.
	free := map[uint64]bool{}
	for k := range uint64(pool - used) {
		free[1+k*pool/(pool-used)] = true
	}
	var worst []uint64
	for off := range uint64(pool) {
		if !free[off] && len(worst) < used {
			worst = append(worst, off)
		}
	}
	layouts["worst"] = worst
	for _, name := range []string{"lowest first", "random", "worst"} {
		offs := layouts[name]
		in := make([]netip.Addr, 0, len(offs))
		for _, off := range offs {
			a, _ := nth(base, off)
			in = append(in, a)
		}
		c, _ := Encode(base, in)
		if c.Count != used {
			t.Fatalf("%s: count %d", name, c.Count)
		}
		t.Logf("%s: 60,000 addresses of a /16 in %d characters", name, len(c.Runs))
		if len(c.Runs) > 16<<10 {
			t.Errorf("%s: %d characters, over the 16 KB the API documents", name, len(c.Runs))
		}
	}
	if c, _ := Encode(base, inOrder(base, used)); len(c.Runs) > 12 {
		t.Errorf("lowest first: %q, want a dozen characters at most", c.Runs)
	}
}

func inOrder(base netip.Addr, n int) []netip.Addr {
	out := make([]netip.Addr, 0, n)
	for a := base; len(out) < n; a = a.Next() {
		out = append(out, a)
	}
	return out
}

// FuzzDecode: Decode never panics, and what it accepts is canonical:
// encoding the addresses it decoded gives back the same text.
func FuzzDecode(f *testing.F) {
	f.Add("10.0.0.0", 3, b64(1, 3))
	f.Add("2001:db8::", 3, b64(0, 2, 0xfffe, 1))
	f.Add("255.255.255.255", 1, b64(0, 1))
	f.Add("10.0.0.0", 0, "")
	f.Fuzz(func(t *testing.T, base string, count int, runs string) {
		c := v1alpha2.EipUsedCompact{Base: base, Count: count, Runs: runs}
		spans, err := Decode(&c)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Decode(%+v): error %v is not ErrCorrupt", c, err)
			}
			return
		}
		if count > 1<<16 {
			return // valid, but too large to expand here
		}
		addrs := expand(t, spans)
		again, rest := Encode(netip.MustParseAddr(base), addrs)
		if len(rest) != 0 || again.Count != count || again.Runs != runs {
			t.Fatalf("Decode(%+v) = %v; encodes back to %+v (rest %v)", c, spans, again, rest)
		}
		if !slices.IsSortedFunc(addrs, netip.Addr.Compare) {
			t.Fatalf("Decode(%+v): spans out of order: %v", c, spans)
		}
	})
}

// ExampleEncode shows the text of 60,000 addresses handed out lowest first.
func ExampleEncode() {
	c, _ := Encode(netip.MustParseAddr("10.20.0.0"), inOrder(netip.MustParseAddr("10.20.0.0"), 60000))
	fmt.Printf("%s %d %s\n", c.Base, c.Count, c.Runs)
	// Output: 10.20.0.0 60000 AODUAw==
}
