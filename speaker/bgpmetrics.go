package speaker

import (
	"context"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/herald-lb/herald/speaker/bgp"
)

// bgpScrapeTimeout bounds the read of GoBGP's sessions during a scrape.
const bgpScrapeTimeout = 5 * time.Second

var (
	bgpMessagesSentDesc = prometheus.NewDesc("herald_speaker_bgp_messages_sent_total",
		"BGP messages this node sent to each peer, by type, as GoBGP counts them since it (re)configured the session "+
			"(a restart of the speaker or a reset by a configuration change starts again from 0).",
		[]string{"peer", "type"}, nil)
	bgpMessagesReceivedDesc = prometheus.NewDesc("herald_speaker_bgp_messages_received_total",
		"BGP messages this node received from each peer, by type, counted as herald_speaker_bgp_messages_sent_total.",
		[]string{"peer", "type"}, nil)
	bgpFlapsDesc = prometheus.NewDesc("herald_speaker_bgp_session_flaps_total",
		"Established sessions with each peer that went down soon after coming up, as GoBGP counts them (its flops).",
		[]string{"peer"}, nil)
	bgpEstablishedDesc = prometheus.NewDesc("herald_speaker_bgp_session_established_timestamp_seconds",
		"When the session with each peer was last established, in Unix seconds; absent while it never was.",
		[]string{"peer"}, nil)
)

// BGPCollector exports what changes during a session's life and so stays
// out of BgpPeer status (BGPStatusWriter): the message counters, flaps and
// the time of establishment. It reads them from GoBGP at scrape time, so
// nothing polls between scrapes and nothing is written anywhere.
type BGPCollector struct {
	// Status reads the sessions (bgp.Router.PeerStatus).
	Status func(context.Context) ([]bgp.PeerStatus, error)
	Log    logr.Logger
}

var _ prometheus.Collector = (*BGPCollector)(nil)

// Describe implements prometheus.Collector.
func (c *BGPCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{bgpMessagesSentDesc, bgpMessagesReceivedDesc, bgpFlapsDesc, bgpEstablishedDesc} {
		ch <- d
	}
}

// Collect implements prometheus.Collector. A failed read exports nothing
// and is logged: the scrape's other series stay usable.
func (c *BGPCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), bgpScrapeTimeout)
	defer cancel()
	states, err := c.Status(ctx)
	if err != nil {
		c.Log.Error(err, "read bgp sessions for metrics")
		return
	}
	done := map[string]bool{}
	for _, s := range states {
		// A neighbour no longer configured under any name has no peer to
		// label it with; two series with the same labels would fail the
		// whole scrape, so a name is exported once.
		if s.Name == "" || done[s.Name] {
			continue
		}
		done[s.Name] = true
		for _, m := range messageSeries(s.Sent) {
			ch <- prometheus.MustNewConstMetric(bgpMessagesSentDesc, prometheus.CounterValue, float64(m.n), s.Name, m.kind)
		}
		for _, m := range messageSeries(s.Received) {
			ch <- prometheus.MustNewConstMetric(bgpMessagesReceivedDesc, prometheus.CounterValue, float64(m.n), s.Name, m.kind)
		}
		ch <- prometheus.MustNewConstMetric(bgpFlapsDesc, prometheus.CounterValue, float64(s.Flops), s.Name)
		if !s.Uptime.IsZero() {
			ch <- prometheus.MustNewConstMetric(bgpEstablishedDesc, prometheus.GaugeValue, float64(s.Uptime.Unix()), s.Name)
		}
	}
}

type messageCount struct {
	kind string
	n    uint64
}

// messageSeries are the message counters by BGP message type (discarded:
// messages of a type GoBGP does not know), which add up to every message
// of the session. GoBGP's total is left out, and so are its withdrawal
// counts, which count some of the updates again (and prefixes, not
// messages): a sum over the type label counts each message once.
func messageSeries(c bgp.MessageCounts) []messageCount {
	return []messageCount{
		{"open", c.Open}, {"update", c.Update}, {"notification", c.Notification}, {"keepalive", c.Keepalive},
		{"refresh", c.Refresh}, {"discarded", c.Discarded},
	}
}
