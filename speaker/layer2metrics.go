package speaker

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/herald-lb/herald/speaker/layer2"
)

// layer2Packets describes the responders' counters: what this node's
// ARP/NDP responders answered, announced and heard, per interface.
var layer2Packets = prometheus.NewDesc("herald_speaker_layer2_packets_total",
	"Layer2 responder activity per interface, by kind: arp_reply and neighbor_advertisement answered requests, "+
		"gratuitous_arp and unsolicited_na announcements, conflict frames in which another MAC claimed an address "+
		"this node answers for, read_error and write_error socket errors.",
	[]string{"interface", "kind"}, nil)

// Describe makes the mode a prometheus.Collector of its responders'
// counters.
func (m *Layer2Mode) Describe(ch chan<- *prometheus.Desc) { ch <- layer2Packets }

// Collect reports the counters of the open responders plus those of the
// ones closed before, so that every series only grows.
func (m *Layer2Mode) Collect(ch chan<- prometheus.Metric) {
	m.mu.Lock()
	totals := make(map[string]layer2.ResponderCounters, len(m.closedCounts)+len(m.responders))
	for iface, c := range m.closedCounts {
		totals[iface] = c
	}
	for iface, r := range m.responders {
		totals[iface] = addCounts(totals[iface], r.Counters())
	}
	m.mu.Unlock()
	for iface, c := range totals {
		for kind, v := range map[string]uint64{
			"arp_reply": c.ARPReplies, "neighbor_advertisement": c.NeighborAdvertisements,
			"gratuitous_arp": c.GratuitousARPs, "unsolicited_na": c.UnsolicitedNAs,
			"conflict": c.Conflicts, "read_error": c.ReadErrors, "write_error": c.WriteErrors,
		} {
			ch <- prometheus.MustNewConstMetric(layer2Packets, prometheus.CounterValue, float64(v), iface, kind)
		}
	}
}

// keepCountsLocked adds a responder's counters to closedCounts before it
// is closed; m.mu is held.
func (m *Layer2Mode) keepCountsLocked(iface string, r L2Responder) {
	if m.closedCounts == nil {
		m.closedCounts = map[string]layer2.ResponderCounters{}
	}
	m.closedCounts[iface] = addCounts(m.closedCounts[iface], r.Counters())
}

func addCounts(a, b layer2.ResponderCounters) layer2.ResponderCounters {
	return layer2.ResponderCounters{
		ARPReplies:             a.ARPReplies + b.ARPReplies,
		NeighborAdvertisements: a.NeighborAdvertisements + b.NeighborAdvertisements,
		GratuitousARPs:         a.GratuitousARPs + b.GratuitousARPs,
		UnsolicitedNAs:         a.UnsolicitedNAs + b.UnsolicitedNAs,
		Conflicts:              a.Conflicts + b.Conflicts,
		ReadErrors:             a.ReadErrors + b.ReadErrors,
		WriteErrors:            a.WriteErrors + b.WriteErrors,
	}
}
