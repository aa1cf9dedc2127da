package speaker

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/keepalived"
)

// TestGatherVRIDs: the snapshot holds the VRIDs the controller wrote into
// the accepted vip Eips' status, IPv4 and IPv6, and nothing else: entries
// of Eips of other protocols, of an Eip that lost to an older overlapping
// one, outside the Eip's range, unparsable or out of 1-255 are ignored.
func TestGatherVRIDs(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	eip := func(name, address, protocol string, age time.Duration, vrids map[string]int32) v1alpha2.Eip {
		return v1alpha2.Eip{
			ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.NewTime(t0.Add(-age))},
			Spec:       v1alpha2.EipSpec{Address: address, Protocol: protocol, Interface: "eth0"},
			Status:     v1alpha2.EipStatus{VRIDs: vrids},
		}
	}
	eips := []v1alpha2.Eip{
		eip("vip4", "192.0.2.0/24", v1alpha2.ProtocolVIP, time.Hour, map[string]int32{
			"192.0.2.1":    1,
			"192.0.2.2":    255,
			"192.0.2.3":    0,   // not a VRID
			"192.0.2.4":    256, // not a VRID
			"192.0.2.x":    9,   // unparsable
			"198.51.100.1": 10,  // outside the Eip
		}),
		eip("vip6", "2001:db8::/64", v1alpha2.ProtocolVIP, time.Hour, map[string]int32{"2001:db8::1": 1}),
		// Overlaps vip4 and is newer: not accepted, its entries do not count.
		eip("late", "192.0.2.0/28", v1alpha2.ProtocolVIP, time.Minute, map[string]int32{"192.0.2.5": 40}),
		eip("l2", "198.51.100.0/24", v1alpha2.ProtocolLayer2, time.Hour, map[string]int32{"198.51.100.1": 11}),
	}
	snap, err := gather(context.Background(), listedReader{eips: eips}, func() []*corev1.Service { return nil }, "node1", "herald.io/lb")
	if err != nil {
		t.Fatal(err)
	}
	want := map[netip.Addr]keepalived.VRID{
		netip.MustParseAddr("192.0.2.1"):   1,
		netip.MustParseAddr("192.0.2.2"):   255,
		netip.MustParseAddr("2001:db8::1"): 1,
	}
	if diff := cmp.Diff(want, snap.VRIDs); diff != "" {
		t.Errorf("VRIDs (-want +got):\n%s", diff)
	}
}
