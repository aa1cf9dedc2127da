package keepalived

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the supervisor's Prometheus series: what keepalived did
// (starts, exits, reloads and their result, refused configs) and the VRRP
// state of every VIP instance on this node. A nil *Metrics records nothing.
// The VIP-labelled series are bounded by the VIPs this node takes part in
// (Settings.Participants per VIP), not by the cluster's Services.
type Metrics struct {
	events      *prometheus.CounterVec
	state       *prometheus.GaugeVec
	transitions *prometheus.CounterVec
}

// vipStates are the states herald_keepalived_vip_state has series for.
var vipStates = []State{StateMaster, StateBackup, StateFault}

// NewMetrics creates the series and registers them with reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_keepalived_events_total",
			Help: "What the supervisor saw keepalived do, by kind: Started, Exited (unasked; a restart follows), " +
				"StartFailed, Reloaded, ReloadFailed, Installed (while keepalived was down), Refused (a config that " +
				"failed `keepalived -t` and never reached keepalived), Stopped, VIPRemoved and VIPRemoveFailed (a VIP " +
				"a killed keepalived left on its interface).",
		}, []string{"kind"}),
		state: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "herald_keepalived_vip_state",
			Help: "VRRP state of each VIP's instance on this node: 1 on the series of the current state.",
		}, []string{"ip", "state"}),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_keepalived_vip_transitions_total",
			Help: "VRRP state changes of the VIP instances on this node, by the state entered.",
		}, []string{"state"}),
	}
	for _, c := range []prometheus.Collector{m.events, m.state, m.transitions} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// Event counts one supervisor event; pass it as (part of) Supervisor.Report.
func (m *Metrics) Event(ev Event) {
	if m == nil {
		return
	}
	m.events.WithLabelValues(string(ev.Kind)).Inc()
}

// Notification records one state change read from notify_fifo. An
// instance that is deleted or stopped loses its series, so VIPs that left
// this node do not linger.
func (m *Metrics) Notification(n Notification) {
	if m == nil {
		return
	}
	m.transitions.WithLabelValues(string(n.State)).Inc()
	ip := n.VIP.String()
	for _, s := range vipStates {
		if n.State == StateDeleted || n.State == StateStop {
			m.state.DeleteLabelValues(ip, string(s))
			continue
		}
		v := 0.0
		if s == n.State {
			v = 1
		}
		m.state.WithLabelValues(ip, string(s)).Set(v)
	}
}
