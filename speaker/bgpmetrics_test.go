package speaker

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/herald-lb/herald/speaker/bgp"
)

// gatherBGP registers a BGPCollector over states in a pedantic registry
// (which checks what Collect sends against Describe) and returns every
// sample as "name{label=value,...}" → value.
func gatherBGP(t *testing.T, states []bgp.PeerStatus, err error) map[string]float64 {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(&BGPCollector{Log: testr.New(t), Status: func(context.Context) ([]bgp.PeerStatus, error) { return states, err }})
	families, gerr := reg.Gather()
	if gerr != nil {
		t.Fatalf("gather: %v", gerr)
	}
	out := map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			key := f.GetName() + "{"
			for i, l := range m.GetLabel() {
				if i > 0 {
					key += ","
				}
				key += l.GetName() + "=" + l.GetValue()
			}
			key += "}"
			v := m.GetCounter().GetValue()
			if m.GetGauge() != nil {
				v = m.GetGauge().GetValue()
			}
			out[key] = v
		}
	}
	return out
}

// TestBGPCollectorExportsCounters: the message counters, flaps and the
// time of establishment are read from the router at scrape time, once per
// BgpPeer name, and a failed read exports nothing rather than failing the
// scrape.
func TestBGPCollectorExportsCounters(t *testing.T) {
	up := time.Date(2026, 12, 5, 6, 0, 0, 0, time.UTC)
	states := []bgp.PeerStatus{
		{Name: "tor-a", Address: netip.MustParseAddr("10.0.0.1"), State: bgp.StateEstablished, Uptime: up, Flops: 2,
			Sent:     bgp.MessageCounts{Open: 1, Update: 7, Keepalive: 40, Total: 48},
			Received: bgp.MessageCounts{Open: 1, Keepalive: 41, Notification: 1, Discarded: 3, Total: 46}},
		// The same name twice (a neighbour being replaced): exported once.
		{Name: "tor-a", Address: netip.MustParseAddr("10.0.0.9"), Sent: bgp.MessageCounts{Keepalive: 99}},
		// No name: a neighbour no longer configured.
		{Address: netip.MustParseAddr("10.0.0.2"), Sent: bgp.MessageCounts{Keepalive: 5}},
		{Name: "tor-b", Address: netip.MustParseAddr("10.0.0.3"), State: bgp.StateActive},
	}
	got := gatherBGP(t, states, nil)
	for key, want := range map[string]float64{
		"herald_speaker_bgp_messages_sent_total{peer=tor-a,type=keepalive}":        40,
		"herald_speaker_bgp_messages_sent_total{peer=tor-a,type=update}":           7,
		"herald_speaker_bgp_messages_received_total{peer=tor-a,type=notification}": 1,
		"herald_speaker_bgp_messages_received_total{peer=tor-a,type=discarded}":    3,
		"herald_speaker_bgp_messages_sent_total{peer=tor-b,type=open}":             0,
		"herald_speaker_bgp_session_flaps_total{peer=tor-a}":                       2,
		"herald_speaker_bgp_session_established_timestamp_seconds{peer=tor-a}":     float64(up.Unix()),
		"herald_speaker_bgp_messages_received_total{peer=tor-b,type=keepalive}":    0,
		"herald_speaker_bgp_session_flaps_total{peer=tor-b}":                       0,
	} {
		if v, ok := got[key]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", key, v, ok, want)
		}
	}
	if _, ok := got["herald_speaker_bgp_session_established_timestamp_seconds{peer=tor-b}"]; ok {
		t.Errorf("tor-b was never established but has an establishment time")
	}
	// 6 types × 2 directions + flaps per peer, + the one establishment time.
	if want := 2*(6*2+1) + 1; len(got) != want {
		t.Errorf("%d series, want %d: %v", len(got), want, got)
	}

	if got := gatherBGP(t, nil, errors.New("bgp server not started")); len(got) != 0 {
		t.Errorf("a failed read exported %v", got)
	}
}
