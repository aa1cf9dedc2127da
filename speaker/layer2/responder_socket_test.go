package layer2

import (
	"net"
	"testing"

	"golang.org/x/net/bpf"
)

// TestSocketFilters assembles the kernel filters (jumps in range) and runs
// the NDP content filter in x/net/bpf's VM over crafted frames. The link
// checks use kernel extensions the VM lacks; the netns test covers them.
func TestResponderSocketFilters(t *testing.T) {
	for name, f := range map[string][]bpf.Instruction{"arp": arpFilter(3), "ndp": ndpFilter(3)} {
		if _, err := bpf.Assemble(f); err != nil {
			t.Errorf("%s filter does not assemble: %v", name, err)
		}
	}

	vm, err := bpf.NewVM(ndpContentFilter())
	if err != nil {
		t.Fatalf("NDP content filter: %v", err)
	}
	snm6 := rtSolicitedNodeMAC(rtVIP6)
	ns := rtND(snm6, rtPeerMAC, rtPeer6, rtVIP6, 255, 135, 0, rtVIP6, nil, false)
	echo := rtND(rtOurMAC, rtPeerMAC, rtPeer6, rtVIP6, 64, 128, 0, rtVIP6, nil, false)
	udp := append([]byte(nil), ns...)
	udp[offIPv6NextHdr] = 17
	tests := []struct {
		name  string
		frame []byte
		keep  bool
	}{
		{"neighbor solicitation", ns, true},
		{"neighbor advertisement", rtND(snm6, rtPeerMAC, rtPeer6, rtAllNodes, 255, 136, 0x20, rtVIP6, nil, false), true},
		{"ICMPv6 echo request", echo, false},
		{"router advertisement", rtND(snm6, rtPeerMAC, rtPeer6, rtAllNodes, 255, 134, 0, rtVIP6, nil, false), false},
		{"UDP", udp, false},
		{"frame cut before the ICMPv6 type", ns[:offICMPv6Type], false},
		{"ARP", rtARP(net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, rtPeerMAC, 1, rtPeerMAC, rtPeer4, rtZeroMAC, rtVIP4), false},
	}
	for _, tc := range tests {
		n, err := vm.Run(tc.frame)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if keep := n > 0; keep != tc.keep {
			t.Errorf("%s: kept %v, want %v", tc.name, keep, tc.keep)
		}
	}
}
