package layer2

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/mdlayher/ndp"
)

// TestICMPv6Checksum checks icmpv6Checksum against x/net/icmp's, through
// ndp.MarshalMessageChecksum, on the advertisement the Responder sends.
func TestICMPv6Checksum(t *testing.T) {
	na := &ndp.NeighborAdvertisement{
		Override:      true,
		TargetAddress: rtVIP6,
		Options:       []ndp.Option{&ndp.LinkLayerAddress{Direction: ndp.Target, Addr: rtOurMAC}},
	}
	want, err := ndp.MarshalMessageChecksum(na, rtVIP6, rtAllNodes)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ndp.MarshalMessage(na)
	if err != nil {
		t.Fatal(err)
	}
	binary.BigEndian.PutUint16(got[2:4], icmpv6Checksum(rtVIP6, rtAllNodes, got))
	if !bytes.Equal(got, want) {
		t.Errorf("advertisement with our checksum\n% x\nwant\n% x", got, want)
	}
	if sum := icmpv6Checksum(rtVIP6, rtAllNodes, got); sum != 0 {
		t.Errorf("checksum over a correct message: %#04x, want 0", sum)
	}
}
