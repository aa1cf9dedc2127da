package eipused

import (
	"errors"
	"net/netip"
	"slices"
	"testing"

	"github.com/herald-lb/herald/api/v1alpha2"
)

// TestRecorded: both forms of several Eips are read together; the compact
// form records addresses without holders; a compact form that does not
// decode is reported and records nothing, while its status.used counts.
func TestRecorded(t *testing.T) {
	compact, _ := Encode(netip.MustParseAddr("10.1.0.0"), addrs("10.1.0.0", "10.1.0.1", "10.1.0.7"))
	var r Recorded
	if err := r.Add(&v1alpha2.EipStatus{Used: map[string]string{"10.0.0.1": "a/x;b/y", "not-an-ip": "a/z"}}); err != nil {
		t.Fatal(err)
	}
	if err := r.Add(&v1alpha2.EipStatus{UsedCompact: &compact, Used: map[string]string{"2001:db8:0:1::": "a/far"}}); err != nil {
		t.Fatal(err)
	}
	bad := v1alpha2.EipStatus{UsedCompact: &v1alpha2.EipUsedCompact{Base: "10.2.0.0", Count: 5, Runs: b64(0, 1)},
		Used: map[string]string{"10.2.0.9": "c/w"}}
	if err := r.Add(&bad); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Add(corrupt) = %v, want ErrCorrupt", err)
	}
	for _, tc := range []struct {
		ip      string
		inUse   bool
		holders []string
	}{
		{"10.0.0.1", true, []string{"a/x", "b/y"}},
		{"10.0.0.2", false, nil},
		{"10.1.0.1", true, nil},
		{"10.1.0.2", false, nil},
		{"10.1.0.7", true, nil},
		{"2001:db8:0:1::", true, []string{"a/far"}},
		{"10.2.0.0", false, nil},
		{"10.2.0.9", true, []string{"c/w"}},
	} {
		a := netip.MustParseAddr(tc.ip)
		if got := r.InUse(a); got != tc.inUse {
			t.Errorf("InUse(%s) = %v, want %v", a, got, tc.inUse)
		}
		if got := r.Holders(a); !slices.Equal(got, tc.holders) {
			t.Errorf("Holders(%s) = %v, want %v", a, got, tc.holders)
		}
	}
	var zero Recorded
	if zero.InUse(netip.MustParseAddr("10.0.0.1")) || zero.Holders(netip.MustParseAddr("10.0.0.1")) != nil {
		t.Error("the zero Recorded records something")
	}
}
