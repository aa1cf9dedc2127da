package layer2

import (
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// TestResponderHandleFrame feeds one crafted frame at a time to the
// handlers and checks the decision, the frames sent and the conflicts
// reported.
func TestResponderHandleFrame(t *testing.T) {
	rcvd := frameMeta{ifIndex: rtIfIndex, pktType: pktBroadcast}
	snm6 := netip.MustParseAddr("ff02::1:ff00:100")
	snmMAC6 := rtSolicitedNodeMAC(rtVIP6)
	peerSLLA := []rtNDOpt{{1, rtPeerMAC}}
	const ns, na = 135, 136
	const flagS, flagO = 0x40, 0x20

	tests := []struct {
		name          string
		ndp           bool // else ARP
		frame         []byte
		meta          *frameMeta // default rcvd
		want          rxOutcome
		wantSent      []sentFrame
		wantConflicts []rtConflict
	}{
		// IPv4.
		{
			name:     "v4 broadcast request for an owned address is answered, unicast to the requester",
			frame:    rtARP(rtBcast, rtPeerMAC, 1, rtPeerMAC, rtPeer4, rtZeroMAC, rtVIP4),
			want:     rxAnswered,
			wantSent: []sentFrame{wantARPReply(rtPeerMAC, rtVIP4, rtPeerMAC, rtPeer4)},
		},
		{
			name:     "v4 request to our MAC (unicast probe) is answered",
			frame:    rtARP(rtOurMAC, rtPeerMAC, 1, rtPeerMAC, rtPeer4, rtOurMAC, rtVIP4),
			meta:     &frameMeta{ifIndex: rtIfIndex, pktType: pktHost},
			want:     rxAnswered,
			wantSent: []sentFrame{wantARPReply(rtPeerMAC, rtVIP4, rtPeerMAC, rtPeer4)},
		},
		{
			name:  "v4 request to another host's MAC, flooded by a bridge, is ignored",
			frame: rtARP(rtOtherMAC, rtPeerMAC, 1, rtPeerMAC, rtPeer4, rtOtherMAC, rtVIP4),
			meta:  &frameMeta{ifIndex: rtIfIndex, pktType: pktOtherHost},
			want:  rxOtherHost,
		},
		{
			name:  "v4 request to another host's MAC is ignored whatever the packet type says",
			frame: rtARP(rtOtherMAC, rtPeerMAC, 1, rtPeerMAC, rtPeer4, rtOtherMAC, rtVIP4),
			meta:  &frameMeta{ifIndex: rtIfIndex, pktType: pktHost},
			want:  rxOtherHost,
		},
		{
			name:  "v4 request to a multicast MAC is ignored",
			frame: rtARP(net.HardwareAddr{0x01, 0, 0x5e, 0, 0, 1}, rtPeerMAC, 1, rtPeerMAC, rtPeer4, rtZeroMAC, rtVIP4),
			meta:  &frameMeta{ifIndex: rtIfIndex, pktType: pktMulticast},
			want:  rxOtherHost,
		},
		{
			name:  "v4 request for an address we do not own is ignored",
			frame: rtARP(rtBcast, rtPeerMAC, 1, rtPeerMAC, rtPeer4, rtZeroMAC, rtNotOwned4),
			want:  rxNotOwned,
		},
		{
			name:     "v4 ARP probe (sender 0.0.0.0) is answered, which defends the address",
			frame:    rtARP(rtBcast, rtPeerMAC, 1, rtPeerMAC, netip.IPv4Unspecified(), rtZeroMAC, rtVIP4),
			want:     rxAnswered,
			wantSent: []sentFrame{wantARPReply(rtPeerMAC, rtVIP4, rtPeerMAC, netip.IPv4Unspecified())},
		},
		{
			name:  "v4 request received on another interface is ignored",
			frame: rtARP(rtBcast, rtPeerMAC, 1, rtPeerMAC, rtPeer4, rtZeroMAC, rtVIP4),
			meta:  &frameMeta{ifIndex: rtIfIndex + 1, pktType: pktBroadcast},
			want:  rxOtherInterface,
		},
		{
			name:  "v4 VLAN-tagged request is ignored",
			frame: rtVLAN(rtARP(rtBcast, rtPeerMAC, 1, rtPeerMAC, rtPeer4, rtZeroMAC, rtVIP4)),
			want:  rxOtherInterface,
		},
		{
			name:  "v4 our own outgoing frame is ignored",
			frame: rtARP(rtBcast, rtOurMAC, 1, rtOurMAC, rtVIP4, rtZeroMAC, rtVIP4),
			meta:  &frameMeta{ifIndex: rtIfIndex, pktType: pktOutgoing},
			want:  rxOwnFrame,
		},
		{
			name:          "v4 gratuitous request from another MAC for an owned address is a conflict, not answered",
			frame:         rtARP(rtBcast, rtOtherMAC, 1, rtOtherMAC, rtVIP4, rtZeroMAC, rtVIP4),
			want:          rxConflict,
			wantConflicts: []rtConflict{{rtVIP4, rtOtherMAC.String()}},
		},
		{
			name:          "v4 gratuitous reply from another MAC for an owned address is a conflict",
			frame:         rtARP(rtBcast, rtOtherMAC, 2, rtOtherMAC, rtVIP4, rtBcast, rtVIP4),
			want:          rxConflict,
			wantConflicts: []rtConflict{{rtVIP4, rtOtherMAC.String()}},
		},
		{
			name:          "v4 request using an owned address as its sender is a conflict, even for another owned address",
			frame:         rtARP(rtBcast, rtOtherMAC, 1, rtOtherMAC, rtVIP4, rtZeroMAC, rtVIP4b),
			want:          rxConflict,
			wantConflicts: []rtConflict{{rtVIP4, rtOtherMAC.String()}},
		},
		{
			name:  "v4 gratuitous ARP for an address we do not own asks nothing",
			frame: rtARP(rtBcast, rtOtherMAC, 1, rtOtherMAC, rtNotOwned4, rtZeroMAC, rtNotOwned4),
			want:  rxNoQuestion,
		},
		{
			name:  "v4 reply to us about another address asks nothing",
			frame: rtARP(rtOurMAC, rtPeerMAC, 2, rtPeerMAC, rtPeer4, rtOurMAC, rtVIP4),
			meta:  &frameMeta{ifIndex: rtIfIndex, pktType: pktHost},
			want:  rxNoQuestion,
		},
		{
			name:  "v4 truncated packet is invalid",
			frame: rtEthernet(rtBcast, rtPeerMAC, 0x0806, []byte{0, 1, 8, 0, 6, 4, 0, 1, 2, 3})[:24],
			want:  rxInvalid,
		},
		{
			name:  "v4 request from a broadcast sender MAC is invalid",
			frame: rtARP(rtBcast, rtPeerMAC, 1, rtBcast, rtPeer4, rtZeroMAC, rtVIP4),
			want:  rxInvalid,
		},

		// IPv6.
		{
			name:     "v6 multicast solicitation (address resolution) for an owned address is answered",
			ndp:      true,
			frame:    rtND(snmMAC6, rtPeerMAC, rtPeer6, snm6, 255, ns, 0, rtVIP6, peerSLLA, false),
			meta:     &frameMeta{ifIndex: rtIfIndex, pktType: pktMulticast},
			want:     rxAnswered,
			wantSent: []sentFrame{wantNA(rtPeerMAC, rtVIP6, rtPeer6, "OS")},
		},
		{
			name:     "v6 unicast NUD solicitation to the owned address itself is answered",
			ndp:      true,
			frame:    rtND(rtOurMAC, rtPeerMAC, rtPeer6, rtVIP6, 255, ns, 0, rtVIP6, nil, false),
			meta:     &frameMeta{ifIndex: rtIfIndex, pktType: pktHost},
			want:     rxAnswered,
			wantSent: []sentFrame{wantNA(rtPeerMAC, rtVIP6, rtPeer6, "OS")},
		},
		{
			name:     "v6 DAD probe (source ::) is answered to all nodes, not solicited",
			ndp:      true,
			frame:    rtND(snmMAC6, rtPeerMAC, netip.IPv6Unspecified(), snm6, 255, ns, 0, rtVIP6, nil, false),
			meta:     &frameMeta{ifIndex: rtIfIndex, pktType: pktMulticast},
			want:     rxAnswered,
			wantSent: wantUnsolicitedNA(rtVIP6),
		},
		{
			name:  "v6 solicitation for an address we do not own is ignored",
			ndp:   true,
			frame: rtND(rtSolicitedNodeMAC(rtNotOwned6), rtPeerMAC, rtPeer6, netip.MustParseAddr("ff02::1:ff00:200"), 255, ns, 0, rtNotOwned6, peerSLLA, false),
			meta:  &frameMeta{ifIndex: rtIfIndex, pktType: pktMulticast},
			want:  rxNotOwned,
		},
		{
			name:  "v6 NUD solicitation to another host's MAC, flooded by a bridge, is ignored",
			ndp:   true,
			frame: rtND(rtOtherMAC, rtPeerMAC, rtPeer6, rtVIP6, 255, ns, 0, rtVIP6, peerSLLA, false),
			meta:  &frameMeta{ifIndex: rtIfIndex, pktType: pktOtherHost},
			want:  rxOtherHost,
		},
		{
			name:  "v6 solicitation received on another interface is ignored",
			ndp:   true,
			frame: rtND(snmMAC6, rtPeerMAC, rtPeer6, snm6, 255, ns, 0, rtVIP6, peerSLLA, false),
			meta:  &frameMeta{ifIndex: rtIfIndex + 1, pktType: pktMulticast},
			want:  rxOtherInterface,
		},
		{
			name:  "v6 solicitation with hop limit 64 (routed) is invalid",
			ndp:   true,
			frame: rtND(snmMAC6, rtPeerMAC, rtPeer6, snm6, 64, ns, 0, rtVIP6, peerSLLA, false),
			want:  rxInvalid,
		},
		{
			name:  "v6 solicitation with a bad checksum is invalid",
			ndp:   true,
			frame: rtND(snmMAC6, rtPeerMAC, rtPeer6, snm6, 255, ns, 0, rtVIP6, peerSLLA, true),
			want:  rxInvalid,
		},
		{
			name:  "v6 DAD probe with a source link-layer option is invalid",
			ndp:   true,
			frame: rtND(snmMAC6, rtPeerMAC, netip.IPv6Unspecified(), snm6, 255, ns, 0, rtVIP6, peerSLLA, false),
			want:  rxInvalid,
		},
		{
			name:  "v6 solicitation sent to all nodes instead of the target's group is invalid",
			ndp:   true,
			frame: rtND(net.HardwareAddr{0x33, 0x33, 0, 0, 0, 1}, rtPeerMAC, rtPeer6, rtAllNodes, 255, ns, 0, rtVIP6, peerSLLA, false),
			want:  rxInvalid,
		},
		{
			name:          "v6 advertisement from another MAC for an owned address is a conflict",
			ndp:           true,
			frame:         rtND(net.HardwareAddr{0x33, 0x33, 0, 0, 0, 1}, rtOtherMAC, rtVIP6, rtAllNodes, 255, na, flagO, rtVIP6, []rtNDOpt{{2, rtOtherMAC}}, false),
			want:          rxConflict,
			wantConflicts: []rtConflict{{rtVIP6, rtOtherMAC.String()}},
		},
		{
			name:          "v6 solicitation using an owned address as its source is a conflict",
			ndp:           true,
			frame:         rtND(rtSolicitedNodeMAC(rtPeer6), rtOtherMAC, rtVIP6, netip.MustParseAddr("ff02::1:ff00:2"), 255, ns, 0, rtPeer6, []rtNDOpt{{1, rtOtherMAC}}, false),
			want:          rxConflict,
			wantConflicts: []rtConflict{{rtVIP6, rtOtherMAC.String()}},
		},
		{
			name:  "v6 advertisement for an address we do not own asks nothing",
			ndp:   true,
			frame: rtND(net.HardwareAddr{0x33, 0x33, 0, 0, 0, 1}, rtOtherMAC, rtNotOwned6, rtAllNodes, 255, na, flagO, rtNotOwned6, []rtNDOpt{{2, rtOtherMAC}}, false),
			want:  rxNoQuestion,
		},
		{
			name:  "v6 solicited advertisement to a multicast address is invalid",
			ndp:   true,
			frame: rtND(net.HardwareAddr{0x33, 0x33, 0, 0, 0, 1}, rtOtherMAC, rtVIP6, rtAllNodes, 255, na, flagS|flagO, rtVIP6, []rtNDOpt{{2, rtOtherMAC}}, false),
			want:  rxInvalid,
		},
		{
			name:  "v6 our own outgoing advertisement is ignored",
			ndp:   true,
			frame: rtND(net.HardwareAddr{0x33, 0x33, 0, 0, 0, 1}, rtOurMAC, rtVIP6, rtAllNodes, 255, na, flagO, rtVIP6, []rtNDOpt{{2, rtOurMAC}}, false),
			meta:  &frameMeta{ifIndex: rtIfIndex, pktType: pktOutgoing},
			want:  rxOwnFrame,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newRespHarness(t, ResponderOptions{})
			if err := h.r.SetOwned([]netip.Addr{rtVIP4, rtVIP4b, rtVIP6}); err != nil {
				t.Fatalf("SetOwned: %v", err)
			}
			h.arp.reset()
			h.ndp.reset()
			meta := rcvd
			if tc.meta != nil {
				meta = *tc.meta
			}

			var got rxOutcome
			conn := h.arp
			if tc.ndp {
				got, conn = h.r.handleNDP(tc.frame, meta), h.ndp
			} else {
				got = h.r.handleARP(tc.frame, meta)
			}

			if got != tc.want {
				t.Errorf("outcome %v, want %v", got, tc.want)
			}
			if diff := cmp.Diff(tc.wantSent, conn.sent(t), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("frames sent (-want +got):\n%s", diff)
			}
			if n := h.arp.count() + h.ndp.count() - conn.count(); n != 0 {
				t.Errorf("%d frames sent on the other protocol's socket", n)
			}
			if diff := cmp.Diff(tc.wantConflicts, h.drainConflicts(), cmpopts.EquateEmpty(), rtAddrCmp); diff != "" {
				t.Errorf("conflicts (-want +got):\n%s", diff)
			}
		})
	}
}

// TestResponderReleaseStopsAnswering releases addresses and checks that
// they are not answered or announced any more and that their groups are
// left, while a group shared with a still-owned address is kept.
func TestResponderReleaseStopsAnswering(t *testing.T) {
	h := newRespHarness(t, ResponderOptions{})
	// Same low 24 bits, so the same solicited-node group.
	twin6 := netip.MustParseAddr("2001:db8:1::100")
	group := netip.MustParseAddr("ff02::1:ff00:100")
	if err := h.r.SetOwned([]netip.Addr{rtVIP4, rtVIP6, twin6}); err != nil {
		t.Fatalf("SetOwned: %v", err)
	}
	if diff := cmp.Diff([]netip.Addr{group}, h.groups.members(), rtAddrCmp); diff != "" {
		t.Errorf("groups after owning two addresses of one group (-want +got):\n%s", diff)
	}

	if err := h.r.SetOwned([]netip.Addr{twin6}); err != nil {
		t.Fatalf("SetOwned: %v", err)
	}
	if diff := cmp.Diff([]netip.Addr{group}, h.groups.members(), rtAddrCmp); diff != "" {
		t.Errorf("groups with one address of the group left (-want +got):\n%s", diff)
	}
	h.arp.reset()
	h.ndp.reset()
	ask4 := rtARP(rtBcast, rtPeerMAC, 1, rtPeerMAC, rtPeer4, rtZeroMAC, rtVIP4)
	if got := h.r.handleARP(ask4, frameMeta{ifIndex: rtIfIndex, pktType: pktBroadcast}); got != rxNotOwned {
		t.Errorf("ARP request for a released address: %v, want %v", got, rxNotOwned)
	}
	ask6 := rtND(rtOurMAC, rtPeerMAC, rtPeer6, rtVIP6, 255, 135, 0, rtVIP6, nil, false)
	if got := h.r.handleNDP(ask6, frameMeta{ifIndex: rtIfIndex, pktType: pktHost}); got != rxNotOwned {
		t.Errorf("NUD solicitation for a released address: %v, want %v", got, rxNotOwned)
	}

	if err := h.r.SetOwned(nil); err != nil {
		t.Fatalf("SetOwned(nil): %v", err)
	}
	if got := h.groups.members(); len(got) != 0 {
		t.Errorf("groups after releasing everything: %v, want none", got)
	}
	// Nothing is scheduled any more: time passing sends nothing.
	respWait(t, 5*time.Second, "the announcement timer to stop", func() bool { return !h.clock.HasWaiters() })
	h.clock.Step(time.Hour)
	if n := h.arp.count() + h.ndp.count(); n != 0 {
		t.Errorf("%d frames sent after every address was released", n)
	}
	if got := h.r.Owned(); len(got) != 0 {
		t.Errorf("Owned() = %v, want none", got)
	}
}

// TestResponderSetOwnedErrors checks that invalid addresses are refused and
// the rest still taken, and that a failed multicast join is reported and
// retried by Announce.
func TestResponderSetOwnedErrors(t *testing.T) {
	h := newRespHarness(t, ResponderOptions{})
	h.groups.joinErr = errors.New("no such device")
	mapped := netip.MustParseAddr("::ffff:192.0.2.100")
	err := h.r.SetOwned([]netip.Addr{mapped, {}, netip.MustParseAddr("224.0.0.1"), rtVIP6})
	for _, want := range []string{"cannot own the zero address", "cannot own 224.0.0.1", `interface "eth-test": join group ff02::1:ff00:100 for 2001:db8::100: no such device`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("SetOwned error %v, want it to contain %q", err, want)
		}
	}
	if diff := cmp.Diff([]netip.Addr{rtVIP4, rtVIP6}, h.r.Owned(), rtAddrCmp); diff != "" {
		t.Errorf("owned (-want +got):\n%s", diff)
	}

	h.groups.mu.Lock()
	h.groups.joinErr = nil
	h.groups.mu.Unlock()
	if err := h.r.Announce(rtVIP6); err != nil {
		t.Fatalf("Announce: %v", err)
	}
	if diff := cmp.Diff([]netip.Addr{netip.MustParseAddr("ff02::1:ff00:100")}, h.groups.members(), rtAddrCmp); diff != "" {
		t.Errorf("groups after Announce retried the join (-want +got):\n%s", diff)
	}
	if err := h.r.Announce(rtNotOwned4); !errors.Is(err, ErrAddressNotOwned) {
		t.Errorf("Announce of an address not owned: %v, want ErrAddressNotOwned", err)
	}
}

// TestResponderNoIPv6 checks a Responder opened on a host without IPv6.
func TestResponderNoIPv6(t *testing.T) {
	arpc := newFakeFrameConn()
	r := newResponder(respLink{name: "eth-test", index: rtIfIndex, mac: rtOurMAC}, arpc, nil, nil, ResponderOptions{})
	t.Cleanup(func() { _ = r.Close() })
	err := r.SetOwned([]netip.Addr{rtVIP4, rtVIP6})
	if err == nil || !strings.Contains(err.Error(), "IPv6 is disabled") {
		t.Errorf("SetOwned with IPv6 off: %v, want an error about IPv6", err)
	}
	if diff := cmp.Diff([]netip.Addr{rtVIP4}, r.Owned(), rtAddrCmp); diff != "" {
		t.Errorf("owned (-want +got):\n%s", diff)
	}
}

// TestResponderReceiveLoop drives the goroutines through the fake sockets:
// frames read are handled, read errors are logged with the interface name
// and reading goes on, and OnConflict may change the owned set.
func TestResponderReceiveLoop(t *testing.T) {
	traced := make(chan rxOutcome, 16)
	var h *respHarness
	h = newRespHarness(t, ResponderOptions{
		readBackoff: time.Millisecond,
		trace:       func(_ string, out rxOutcome, _ []byte) { traced <- out },
		OnConflict: func(a netip.Addr, _ net.HardwareAddr) {
			// Yield, as the ownership layer would.
			_ = h.r.SetOwned(nil)
		},
	})
	if err := h.r.SetOwned([]netip.Addr{rtVIP4}); err != nil {
		t.Fatalf("SetOwned: %v", err)
	}
	h.arp.reset()
	meta := frameMeta{ifIndex: rtIfIndex, pktType: pktBroadcast}

	h.arp.in <- fakeRead{err: errors.New("boom")}
	h.arp.in <- fakeRead{frame: rtARP(rtBcast, rtPeerMAC, 1, rtPeerMAC, rtPeer4, rtZeroMAC, rtVIP4), meta: meta}
	if got := rtNextOutcome(t, traced); got != rxAnswered {
		t.Errorf("request after a read error: %v, want %v", got, rxAnswered)
	}
	if got := h.logs.find(`"interface"="eth-test"`, `interface \"eth-test\": read arp frame: boom`); len(got) != 1 {
		t.Errorf("log lines about the read error: %q, want one with the interface", got)
	}
	if c := h.r.Counters(); c.ReadErrors != 1 || c.ARPReplies != 1 {
		t.Errorf("counters %+v, want 1 read error and 1 ARP reply", c)
	}

	h.arp.in <- fakeRead{frame: rtARP(rtBcast, rtOtherMAC, 1, rtOtherMAC, rtVIP4, rtZeroMAC, rtVIP4), meta: meta}
	if got := rtNextOutcome(t, traced); got != rxConflict {
		t.Errorf("gratuitous ARP from another MAC: %v, want %v", got, rxConflict)
	}
	if got := h.r.Owned(); len(got) != 0 {
		t.Errorf("owned after OnConflict yielded: %v, want none", got)
	}
}

func rtNextOutcome(t *testing.T, c <-chan rxOutcome) rxOutcome {
	t.Helper()
	select {
	case out := <-c:
		return out
	case <-time.After(5 * time.Second):
		t.Fatal("timed out waiting for a frame to be handled")
		return 0
	}
}

// TestResponderClose checks that Close stops everything, once.
func TestResponderClose(t *testing.T) {
	h := newRespHarness(t, ResponderOptions{})
	if err := h.r.SetOwned([]netip.Addr{rtVIP4, rtVIP6}); err != nil {
		t.Fatalf("SetOwned: %v", err)
	}
	done := make(chan error)
	go func() { done <- h.r.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return: a goroutine is stuck")
	}
	if !h.arp.isClosed() || !h.ndp.isClosed() || !h.groups.closed {
		t.Errorf("after Close: ARP socket closed %v, NDP socket closed %v, groups closed %v; want all closed",
			h.arp.isClosed(), h.ndp.isClosed(), h.groups.closed)
	}
	if err := h.r.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := h.r.SetOwned([]netip.Addr{rtVIP4}); !errors.Is(err, ErrResponderClosed) {
		t.Errorf("SetOwned after Close: %v, want ErrResponderClosed", err)
	}
	if err := h.r.Announce(rtVIP4); !errors.Is(err, ErrResponderClosed) {
		t.Errorf("Announce after Close: %v, want ErrResponderClosed", err)
	}
	h.arp.reset()
	h.ndp.reset()
	h.clock.Step(time.Hour)
	if got := h.r.handleARP(rtARP(rtBcast, rtPeerMAC, 1, rtPeerMAC, rtPeer4, rtZeroMAC, rtVIP4), frameMeta{ifIndex: rtIfIndex}); got != rxNotOwned {
		t.Errorf("request after Close: %v, want %v", got, rxNotOwned)
	}
	if n := h.arp.count() + h.ndp.count(); n != 0 {
		t.Errorf("%d frames sent after Close", n)
	}
}
