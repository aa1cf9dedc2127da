package speaker

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/herald-lb/herald/speaker/bfd"
)

// BFDMetrics are the BFD series of the speaker. A nil *BFDMetrics records
// nothing.
type BFDMetrics struct {
	sessionState *prometheus.GaugeVec
	downs        *prometheus.CounterVec
}

// NewBFDMetrics creates the BFD series and registers them with reg.
func NewBFDMetrics(reg prometheus.Registerer) (*BFDMetrics, error) {
	m := &BFDMetrics{
		sessionState: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "herald_speaker_bfd_session_state",
			Help: "BFD session state per BGP peer (AdminDown, Down, Init, Up): 1 on the series of the current state.",
		}, []string{"peer", "state"}),
		downs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_speaker_bfd_session_down_total",
			Help: "BFD sessions that went from Up to Down, each of which reset its BGP session, by peer and RFC 5880 diagnostic " +
				"(1: detection time expired, 3: neighbour signalled down).",
		}, []string{"peer", "diag"}),
	}
	for _, c := range []prometheus.Collector{m.sessionState, m.downs} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *BFDMetrics) state(peer string, s bfd.State) {
	if m == nil {
		return
	}
	for _, st := range []bfd.State{bfd.AdminDown, bfd.Down, bfd.Init, bfd.Up} {
		v := 0.0
		if st == s {
			v = 1
		}
		m.sessionState.WithLabelValues(peer, st.String()).Set(v)
	}
}

func (m *BFDMetrics) down(peer string, d bfd.Diag) {
	if m != nil {
		m.downs.WithLabelValues(peer, strconv.Itoa(int(d))).Inc()
	}
}

// forget removes a peer's series once its BgpPeer no longer runs BFD on
// this node, so that a stale state does not linger.
func (m *BFDMetrics) forget(peer string) {
	if m != nil {
		m.sessionState.DeletePartialMatch(prometheus.Labels{"peer": peer})
	}
}
