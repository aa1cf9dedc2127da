//go:build linux

package layer2

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
	"github.com/mdlayher/ethernet"
	"github.com/vishvananda/netlink"
)

// TestResponderNetns runs the real Responder, on real sockets, in network
// namespace A, and uses the kernel of namespace B, joined to A by a veth
// pair, as its client. The owned addresses are assigned nowhere, so only
// the Responder can answer for them.
func TestResponderNetns(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("SKIPPED: TestResponderNetns needs root (network namespaces, veth, packet sockets). " +
			"The Responder's kernel-facing path (sockets, BPF filters, MLD joins, answers seen by a real Linux client) is NOT tested in this run.")
	}
	for _, tool := range []string{"ip", "ping"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("SKIPPED: TestResponderNetns needs %q: %v", tool, err)
		}
	}
	tb := newRespTestbed(t)
	rec := &rtRecorder{}
	r := tb.startResponder(t, ResponderOptions{
		Logger: funcr.New(func(p, a string) { t.Log(p, a) }, funcr.Options{Verbosity: 1}),
		trace:  rec.trace,
	})
	vips := []netip.Addr{rtVIP4, rtVIP6}
	if err := r.SetOwned(vips); err != nil {
		t.Fatalf("SetOwned: %v", err)
	}

	t.Run("solicited-node group joined with the kernel", func(t *testing.T) {
		if out := rtRun(t, "ip", "-n", tb.nsA, "-6", "maddr", "show", "dev", "va"); !strings.Contains(out, "ff02::1:ff00:100") {
			t.Errorf("A's multicast memberships lack ff02::1:ff00:100:\n%s", out)
		}
	})

	for _, vip := range vips {
		fam := "v4"
		if vip.Is6() {
			fam = "v6"
		}
		t.Run(fam+" client resolves the address to A's MAC", func(t *testing.T) {
			tb.ping(t, vip)
			tb.waitNeigh(t, vip, "A's MAC, REACHABLE, STALE or DELAY", func(mac net.HardwareAddr, state int) bool {
				return bytes.Equal(mac, rtOurMAC) && state&(netlink.NUD_REACHABLE|netlink.NUD_STALE|netlink.NUD_DELAY) != 0
			})
		})

		t.Run(fam+" unicast NUD probe to A's MAC is answered", func(t *testing.T) {
			rtRun(t, "ip", "-n", tb.nsB, "neigh", "change", vip.String(), "lladdr", rtOurMAC.String(), "dev", "vb", "nud", "stale")
			rec.reset()
			tb.ping(t, vip) // STALE -> DELAY (1 s) -> PROBE: unicast probes only (mcast_resolicit 0)
			tb.waitNeigh(t, vip, "REACHABLE again, which only an answer to a probe does", func(mac net.HardwareAddr, state int) bool {
				return bytes.Equal(mac, rtOurMAC) && state == netlink.NUD_REACHABLE
			})
			if !rec.answeredUnicast(vip) {
				t.Errorf("no unicast probe to A's MAC (and, for IPv6, to %s itself) among the frames answered: %v", vip, rec.seen())
			}
		})

		t.Run(fam+" Announce moves the client's existing entry", func(t *testing.T) {
			tb.poisonNeigh(t, vip)
			if err := r.Announce(vip); err != nil {
				t.Fatalf("Announce: %v", err)
			}
			tb.waitNeigh(t, vip, "A's MAC", func(mac net.HardwareAddr, _ int) bool { return bytes.Equal(mac, rtOurMAC) })
		})
	}

	// B's locktime is 10 s: within it, only a frame Linux takes for a
	// gratuitous ARP may change the entry, so each form is tested alone.
	for _, form := range []struct {
		name  string
		build func(netip.Addr) ([]byte, error)
	}{{"request", r.garpRequest}, {"reply", r.garpReply}} {
		t.Run("v4 gratuitous ARP "+form.name+" alone moves the client's existing entry", func(t *testing.T) {
			tb.poisonNeigh(t, rtVIP4)
			frame, err := form.build(rtVIP4)
			if err != nil {
				t.Fatal(err)
			}
			if err := r.arp.WriteFrame(frame); err != nil {
				t.Fatal(err)
			}
			tb.waitNeigh(t, rtVIP4, "A's MAC", func(mac net.HardwareAddr, _ int) bool { return bytes.Equal(mac, rtOurMAC) })
		})
	}

	t.Run("frames to another host's MAC are not answered", func(t *testing.T) {
		c1 := net.HardwareAddr{0x02, 0x4c, 0x32, 0, 0, 0xc1}
		c2 := net.HardwareAddr{0x02, 0x4c, 0x32, 0, 0, 0xc2}
		// The first request of each pair goes to another host's MAC, as
		// flooded by a bridge, the second to A's MAC or broadcast. A
		// handles them in order, so once the second is answered, the first
		// was dropped, and the kernel filter dropped it if it never reached
		// the Responder.
		tb.sendPairFromB(t, ethernet.EtherTypeARP, c1, c2,
			rtARP(rtOtherMAC, c1, 1, c1, rtPeer4, rtZeroMAC, rtVIP4),
			rtARP(rtBcast, c2, 1, c2, rtPeer4, rtZeroMAC, rtVIP4))
		tb.sendPairFromB(t, ethernet.EtherTypeIPv6, c1, c2,
			rtND(rtOtherMAC, c1, rtPeer6, rtVIP6, 255, 135, 0, rtVIP6, []rtNDOpt{{1, c1}}, false),
			rtND(rtOurMAC, c2, rtPeer6, rtVIP6, 255, 135, 0, rtVIP6, []rtNDOpt{{1, c2}}, false))
		if got := rec.from(c1); len(got) != 0 {
			t.Errorf("the kernel filter let frames to another host's MAC through: %v", got)
		}
	})

	t.Run("frames for a device stacked on the interface are not answered", func(t *testing.T) {
		// A macvlan on va: the kernel shows frames for its MAC to packet
		// sockets bound to va too, marked with the macvlan's index.
		mv := net.HardwareAddr{0x02, 0x4c, 0x32, 0, 0, 0x0d}
		tb.addMacvlan(t, mv)
		c1 := net.HardwareAddr{0x02, 0x4c, 0x32, 0, 0, 0xd1}
		c2 := net.HardwareAddr{0x02, 0x4c, 0x32, 0, 0, 0xd2}
		tb.sendPairFromB(t, ethernet.EtherTypeARP, c1, c2,
			rtARP(mv, c1, 1, c1, rtPeer4, rtZeroMAC, rtVIP4),
			rtARP(rtBcast, c2, 1, c2, rtPeer4, rtZeroMAC, rtVIP4))
		tb.sendPairFromB(t, ethernet.EtherTypeIPv6, c1, c2,
			rtND(mv, c1, rtPeer6, rtVIP6, 255, 135, 0, rtVIP6, []rtNDOpt{{1, c1}}, false),
			rtND(rtOurMAC, c2, rtPeer6, rtVIP6, 255, 135, 0, rtVIP6, []rtNDOpt{{1, c2}}, false))
		if got := rec.from(c1); len(got) != 0 {
			t.Errorf("the kernel filter let frames received on the macvlan through: %v", got)
		}
	})

	t.Run("v6 DAD probe for an owned address fails the client's DAD", func(t *testing.T) {
		rtRun(t, "ip", "-n", tb.nsB, "addr", "add", rtVIP6.String()+"/64", "dev", "vb")
		defer func() { _, _ = rtRunErr("ip", "-n", tb.nsB, "addr", "del", rtVIP6.String()+"/64", "dev", "vb") }()
		rtPoll(t, 10*time.Second, "B's address to be marked dadfailed", func() (bool, string) {
			out := rtRun(t, "ip", "-n", tb.nsB, "-6", "addr", "show", "dev", "vb")
			return strings.Contains(out, "dadfailed"), out
		})
	})

	t.Run("v4 ARP probe for an owned address is answered", func(t *testing.T) {
		if _, err := exec.LookPath("arping"); err != nil {
			t.Skipf("SKIPPED: arping (iputils-arping) not installed: %v", err)
		}
		// Exit status 1: a reply came, the address is in use.
		out, err := rtRunErr("ip", "netns", "exec", tb.nsB, "arping", "-D", "-c", "2", "-w", "3", "-I", "vb", rtVIP4.String())
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 {
			t.Errorf("arping -D: %v, want exit status 1 (duplicate found):\n%s", err, out)
		}
	})

	t.Run("released addresses are not answered and their group is left", func(t *testing.T) {
		if err := r.SetOwned(nil); err != nil {
			t.Fatalf("SetOwned(nil): %v", err)
		}
		if out := rtRun(t, "ip", "-n", tb.nsA, "-6", "maddr", "show", "dev", "va"); strings.Contains(out, "ff02::1:ff00:100") {
			t.Errorf("A still a member of ff02::1:ff00:100:\n%s", out)
		}
		before := r.Counters()
		for _, vip := range vips {
			rtRun(t, "ip", "-n", tb.nsB, "neigh", "flush", "to", vip.String(), "dev", "vb")
			tb.ping(t, vip) // a second of solicitations, unanswered
			if mac, state, ok := tb.neigh(t, vip); ok && bytes.Equal(mac, rtOurMAC) {
				t.Errorf("%s resolved to A's MAC after release (state %#x)", vip, state)
			}
		}
		after := r.Counters()
		if after.ARPReplies != before.ARPReplies || after.NeighborAdvertisements != before.NeighborAdvertisements {
			t.Errorf("answers after release: counters %+v, then %+v", before, after)
		}
	})
}
