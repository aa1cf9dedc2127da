//go:build linux

package keepalived

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// TestNetlinkAddressesNetns removes addresses from a real interface in a
// network namespace of its own: exactly the host prefix asked for goes,
// the same address with a wider prefix (which could be a node's own) and
// every other address stay.
func TestNetlinkAddressesNetns(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("SKIPPED: TestNetlinkAddressesNetns needs root (a network namespace). " +
			"The stale-VIP removal's netlink path is NOT tested in this run.")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skipf("SKIPPED: TestNetlinkAddressesNetns needs ip: %v", err)
	}
	ns := fmt.Sprintf("hkat-%d-addrs", os.Getpid())
	nsRun(t, "ip", "netns", "add", ns)
	t.Cleanup(func() { nsRun(t, "ip", "netns", "del", ns) }) // nothing runs in it
	nsRun(t, "ip", "netns", "exec", ns, "sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=0", "net.ipv6.conf.lo.disable_ipv6=0")
	nsRun(t, "ip", "-n", ns, "link", "set", "lo", "up")
	for _, a := range []string{"192.0.2.50/32", "192.0.2.50/24", "192.0.2.51/32", "2001:db8::50/128", "2001:db8::51/64"} {
		nsRun(t, "ip", "-n", ns, "addr", "add", a, "dev", "lo")
	}
	h, err := netns.GetFromName(ns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close() })
	nl, err := netlink.NewHandleAt(h)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nl.Close)
	addrs := NetlinkAddresses{Handle: nl}

	for _, tc := range []struct {
		iface, addr string
		want        bool
		wantErr     bool
	}{
		{"lo", "192.0.2.50/32", true, false},
		{"lo", "192.0.2.50/32", false, false}, // gone already
		{"lo", "2001:db8::50/128", true, false},
		{"lo", "2001:db8::51/128", false, false}, // there as a /64 only (IPv6 allows one length per address)
		{"lo", "192.0.2.52/32", false, false},    // never there
		{"eth9", "192.0.2.51/32", false, false},  // no such interface
		{"lo", "192.0.2.50/24", false, true},     // not a host prefix: refused
	} {
		got, err := addrs.RemoveAddress(tc.iface, netip.MustParsePrefix(tc.addr))
		if got != tc.want || (err != nil) != tc.wantErr {
			t.Errorf("RemoveAddress(%s, %s) = %v, %v; want %v, error %v", tc.iface, tc.addr, got, err, tc.want, tc.wantErr)
		}
	}
	lo, err := nl.LinkByName("lo")
	if err != nil {
		t.Fatal(err)
	}
	list, err := nl.AddrList(lo, netlink.FAMILY_ALL)
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, a := range list {
		if a.Scope == unix.RT_SCOPE_UNIVERSE {
			left = append(left, a.IPNet.String())
		}
	}
	slices.Sort(left)
	if diff := cmp.Diff([]string{"192.0.2.50/24", "192.0.2.51/32", "2001:db8::51/64"}, left); diff != "" {
		t.Errorf("addresses left on lo (-want +got):\n%s", diff)
	}
}

func nsRun(t *testing.T, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}
