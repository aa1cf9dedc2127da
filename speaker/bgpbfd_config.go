package speaker

import (
	"fmt"
	"net/netip"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/speaker/bfd"
	"github.com/herald-lb/herald/speaker/bgp"
)

// BFD intervals the API documents: whole milliseconds from 10 ms to 60 s.
const (
	minBFDInterval = 10 * time.Millisecond
	maxBFDInterval = 60 * time.Second
)

// bfdPeers is the BFD configuration of each peer in cfg.Peers whose
// BgpPeer enables BFD, by neighbour address, defaults filled in; and, by
// BgpPeer name, the settings that are not honoured.
func bfdPeers(cfg bgp.Config, peers []v1alpha2.BgpPeer) (map[netip.Addr]bfdPeer, map[string][]string) {
	running := make(map[string]bgp.Peer, len(cfg.Peers))
	for _, p := range cfg.Peers {
		running[p.Name] = p
	}
	want := map[netip.Addr]bfdPeer{}
	problems := map[string][]string{}
	for i := range peers {
		spec := peers[i].Spec.Bfd
		p, ok := running[peers[i].Name]
		if !ok || spec == nil || !spec.Enabled {
			continue
		}
		name := p.Name
		if p.Multihop.Enabled {
			problems[name] = append(problems[name], "spec.bfd: Herald runs single-hop BFD only (RFC 5881), not towards an eBGP multihop peer; ignored")
			continue
		}
		c := bfd.Defaults
		c.DesiredMinTx = bfdInterval(spec.TransmitInterval, c.DesiredMinTx, "spec.bfd.transmitInterval", problems, name)
		c.RequiredMinRx = bfdInterval(spec.ReceiveInterval, c.RequiredMinRx, "spec.bfd.receiveInterval", problems, name)
		if m := spec.DetectMultiplier; m != nil {
			if *m < 1 || *m > 255 {
				problems[name] = append(problems[name], fmt.Sprintf("spec.bfd.detectMultiplier: %d is outside 1-255; %d is used", *m, c.DetectMult))
			} else {
				c.DetectMult = uint8(*m)
			}
		}
		want[p.Address] = bfdPeer{name: name, cfg: c}
	}
	return want, problems
}

func bfdInterval(d *metav1.Duration, def time.Duration, field string, problems map[string][]string, name string) time.Duration {
	if d == nil {
		return def
	}
	if d.Duration < minBFDInterval || d.Duration > maxBFDInterval || d.Duration%time.Millisecond != 0 {
		problems[name] = append(problems[name], fmt.Sprintf("%s: %v is not whole milliseconds from 10ms to 60s; %v is used", field, d.Duration, def))
		return def
	}
	return d.Duration
}
