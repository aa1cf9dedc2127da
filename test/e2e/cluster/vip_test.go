package cluster

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// TestParseHostAddrs: only global host prefixes count as VIPs; the node's
// own /24 and /64, link-local and loopback addresses do not.
func TestParseHostAddrs(t *testing.T) {
	const out = `[{"ifindex":1,"ifname":"lo","addr_info":[{"family":"inet","local":"127.0.0.1","prefixlen":8,"scope":"host"},
{"family":"inet6","local":"::1","prefixlen":128,"scope":"host"}]},
{"ifindex":2,"ifname":"eth0","addr_info":[{"family":"inet","local":"10.99.0.11","prefixlen":24,"scope":"global"},
{"family":"inet","local":"10.99.0.230","prefixlen":32,"scope":"global"},
{"family":"inet6","local":"fd99::230","prefixlen":128,"scope":"global"},
{"family":"inet6","local":"fd99::11","prefixlen":64,"scope":"global"},
{"family":"inet6","local":"fe80::99:ff:fe00:b","prefixlen":64,"scope":"link"}]}]`
	got, err := parseHostAddrs(out)
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Prefix{netip.MustParsePrefix("10.99.0.230/32"), netip.MustParsePrefix("fd99::230/128")}
	if diff := cmp.Diff(want, got, cmpopts.EquateComparable(netip.Prefix{})); diff != "" {
		t.Errorf("parseHostAddrs (-want +got):\n%s", diff)
	}
	if _, err := parseHostAddrs("not json"); err == nil {
		t.Error("parseHostAddrs of garbage: no error")
	}
}
