package iprange

import (
	"errors"
	"math"
	"net/netip"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in          string
		first, last string
		size        uint64
		wantErr     error
	}{
		{in: "192.0.2.10", first: "192.0.2.10", last: "192.0.2.10", size: 1},
		{in: "2001:db8::10", first: "2001:db8::10", last: "2001:db8::10", size: 1},
		{in: "192.0.2.0/24", first: "192.0.2.0", last: "192.0.2.255", size: 256},
		{in: "2001:db8::/120", first: "2001:db8::", last: "2001:db8::ff", size: 256},
		{in: "192.0.2.7/24", first: "192.0.2.0", last: "192.0.2.255", size: 256},
		{in: "192.0.2.7/32", first: "192.0.2.7", last: "192.0.2.7", size: 1},
		{in: "2001:db8::7/128", first: "2001:db8::7", last: "2001:db8::7", size: 1},
		{in: "0.0.0.0/0", first: "0.0.0.0", last: "255.255.255.255", size: 1 << 32},
		{in: "2001:db8::/64", first: "2001:db8::", last: "2001:db8::ffff:ffff:ffff:ffff", size: math.MaxUint64},
		{in: "::/0", first: "::", last: "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", size: math.MaxUint64},
		{in: "192.0.2.91-192.0.2.100", first: "192.0.2.91", last: "192.0.2.100", size: 10},
		{in: " 192.0.2.91 - 192.0.2.100 ", first: "192.0.2.91", last: "192.0.2.100", size: 10},
		{in: "2001:db8::1-2001:db8::1:0", first: "2001:db8::1", last: "2001:db8::1:0", size: 65536},
		{in: "192.0.2.5-192.0.2.5", first: "192.0.2.5", last: "192.0.2.5", size: 1},
		{in: "", wantErr: ErrEmpty},
		{in: "   ", wantErr: ErrEmpty},
		{in: "192.0.2", wantErr: ErrSyntax},
		{in: "192.0.2.300", wantErr: ErrSyntax},
		{in: "192.0.2.0/33", wantErr: ErrSyntax},
		{in: "2001:db8::/129", wantErr: ErrSyntax},
		{in: "192.0.2.1-", wantErr: ErrSyntax},
		{in: "-192.0.2.1", wantErr: ErrSyntax},
		{in: "192.0.2.0/24-192.0.3.0/24", wantErr: ErrSyntax},
		{in: "192.0.2.1-192.0.2.2-192.0.2.3", wantErr: ErrSyntax},
		{in: "fe80::1%eth0", wantErr: ErrSyntax},
		{in: "::ffff:192.0.2.1", wantErr: ErrSyntax},
		{in: "eth0", wantErr: ErrSyntax},
		{in: "192.0.2.10-2001:db8::1", wantErr: ErrMixedFamilies},
		{in: "2001:db8::1-192.0.2.10", wantErr: ErrMixedFamilies},
		{in: "192.0.2.100-192.0.2.91", wantErr: ErrReversed},
		{in: "2001:db8::2-2001:db8::1", wantErr: ErrReversed},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			r, err := Parse(tt.in)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Parse(%q) error = %v, want %v", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			if got := r.First().String(); got != tt.first {
				t.Errorf("First() = %s, want %s", got, tt.first)
			}
			if got := r.Last().String(); got != tt.last {
				t.Errorf("Last() = %s, want %s", got, tt.last)
			}
			if got := r.Size(); got != tt.size {
				t.Errorf("Size() = %d, want %d", got, tt.size)
			}
		})
	}
}

func TestContainsAndOverlaps(t *testing.T) {
	v4 := mustParse(t, "192.0.2.10-192.0.2.20")
	v6 := mustParse(t, "2001:db8::10-2001:db8::20")
	tests := []struct {
		name string
		r    Range
		addr string
		want bool
	}{
		{"v4 first", v4, "192.0.2.10", true},
		{"v4 last", v4, "192.0.2.20", true},
		{"v4 below", v4, "192.0.2.9", false},
		{"v4 above", v4, "192.0.2.21", false},
		{"v4 range, v6 address", v4, "2001:db8::10", false},
		{"v6 first", v6, "2001:db8::10", true},
		{"v6 last", v6, "2001:db8::20", true},
		{"v6 above", v6, "2001:db8::21", false},
		{"zero range", Range{}, "192.0.2.10", false},
	}
	for _, tt := range tests {
		if got := tt.r.Contains(netip.MustParseAddr(tt.addr)); got != tt.want {
			t.Errorf("%s: Contains(%s) = %v, want %v", tt.name, tt.addr, got, tt.want)
		}
	}

	overlaps := []struct {
		a, b string
		want bool
	}{
		{"192.0.2.10-192.0.2.20", "192.0.2.20-192.0.2.30", true},
		{"192.0.2.10-192.0.2.20", "192.0.2.21-192.0.2.30", false},
		{"192.0.2.0/24", "192.0.2.128/25", true},
		{"192.0.2.0/24", "192.0.3.0/24", false},
		{"192.0.2.15", "192.0.2.10-192.0.2.20", true},
		{"2001:db8::/64", "2001:db8::5", true},
		{"2001:db8::/64", "2001:db8:0:1::/64", false},
		{"192.0.2.0/24", "::/0", false},
	}
	for _, tt := range overlaps {
		a, b := mustParse(t, tt.a), mustParse(t, tt.b)
		if got := a.Overlaps(b); got != tt.want {
			t.Errorf("%s overlaps %s = %v, want %v", tt.a, tt.b, got, tt.want)
		}
		if got := b.Overlaps(a); got != tt.want {
			t.Errorf("%s overlaps %s = %v, want %v", tt.b, tt.a, got, tt.want)
		}
	}
}

func TestNthAndIndex(t *testing.T) {
	tests := []struct {
		r    string
		i    uint64
		want string
		ok   bool
	}{
		{"192.0.2.0/24", 0, "192.0.2.0", true},
		{"192.0.2.0/24", 255, "192.0.2.255", true},
		{"192.0.2.0/24", 256, "", false},
		{"255.255.255.0/24", 255, "255.255.255.255", true},
		{"255.255.255.0/24", 256, "", false},
		{"2001:db8::/120", 17, "2001:db8::11", true},
		{"2001:db8::/64", math.MaxUint64, "2001:db8::ffff:ffff:ffff:ffff", true},
		{"2001:db8:0:0:ffff:ffff:ffff:fff0-2001:db8:0:1::10", 32, "2001:db8:0:1::10", true},
		{"ffff:ffff:ffff:ffff:ffff:ffff:ffff:fff0/124", 16, "", false},
	}
	for _, tt := range tests {
		r := mustParse(t, tt.r)
		got, ok := r.Nth(tt.i)
		if ok != tt.ok || (ok && got.String() != tt.want) {
			t.Errorf("%s.Nth(%d) = %v, %v; want %s, %v", tt.r, tt.i, got, ok, tt.want, tt.ok)
			continue
		}
		if !ok {
			continue
		}
		idx, ok := r.Index(got)
		if !ok || idx != tt.i {
			t.Errorf("%s.Index(%s) = %d, %v; want %d", tt.r, got, idx, ok, tt.i)
		}
	}
}

func mustParse(t *testing.T, s string) Range {
	t.Helper()
	r, err := Parse(s)
	if err != nil {
		t.Fatalf("Parse(%q): %v", s, err)
	}
	return r
}
