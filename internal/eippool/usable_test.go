package eippool

import (
	"net/netip"
	"testing"

	"github.com/herald-lb/herald/api/v1alpha2"
)

func TestUsable(t *testing.T) {
	tests := []struct {
		address  string
		avoid    bool
		wantSize uint64
		usable   []string
		unusable []string
	}{
		{"192.0.2.0/24", false, 256, []string{"192.0.2.0", "192.0.2.255"}, nil},
		{"192.0.2.0/24", true, 254, []string{"192.0.2.1", "192.0.2.254"}, []string{"192.0.2.0", "192.0.2.255"}},
		{"192.0.2.0/23", true, 508, []string{"192.0.3.1"}, []string{"192.0.2.255", "192.0.3.0", "192.0.3.255"}},
		{"192.0.2.250-192.0.3.5", true, 10, []string{"192.0.2.254", "192.0.3.1"}, []string{"192.0.2.255", "192.0.3.0"}},
		{"192.0.2.255", true, 0, nil, []string{"192.0.2.255"}},
		{"192.0.2.1-192.0.2.9", true, 9, []string{"192.0.2.1", "192.0.2.9"}, nil},
		{"0.0.0.0/0", true, 1 << 32 / 256 * 254, []string{"10.0.0.1"}, []string{"0.0.0.0", "255.255.255.255"}},
		{"2001:db8::/120", true, 256, []string{"2001:db8::", "2001:db8::ff"}, nil},
	}
	for _, tt := range tests {
		p, err := FromEip(eip("a", v1alpha2.EipSpec{Address: tt.address, AvoidBuggyIPs: tt.avoid}))
		if err != nil {
			t.Fatal(err)
		}
		if got := p.UsableSize(); got != tt.wantSize {
			t.Errorf("%s avoid=%v: UsableSize = %d, want %d", tt.address, tt.avoid, got, tt.wantSize)
		}
		for _, s := range tt.usable {
			if !p.Usable(netip.MustParseAddr(s)) {
				t.Errorf("%s avoid=%v: %s not usable, want usable", tt.address, tt.avoid, s)
			}
		}
		for _, s := range tt.unusable {
			if p.Usable(netip.MustParseAddr(s)) {
				t.Errorf("%s avoid=%v: %s usable, want not", tt.address, tt.avoid, s)
			}
		}
	}
}
