package speaker

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/herald-lb/herald/api/v1alpha2"
)

// Metrics are the speaker's Prometheus series. A nil *Metrics records
// nothing, so tests need not register any.
type Metrics struct {
	announcedAddrs    *prometheus.GaugeVec
	announcedPrefixes *prometheus.GaugeVec
	reconcileErrors   prometheus.Counter
	// modeReady is 1 while a mode's last Apply succeeded, 0 while it
	// fails, for every mode, whether it has work on this node or not.
	modeReady *prometheus.GaugeVec
	// PeerSessions is the BGP session state per peer: 1 for the current
	// state's series, 0 for the others. The BGP mode sets it.
	PeerSessions *prometheus.GaugeVec
	// layer2LiveNodes and layer2Frozen are the Layer2 membership view as
	// this node sees it.
	layer2LiveNodes, layer2Frozen prometheus.Gauge
	// vipInstances, vipMaster and vipState are VIP mode on this node: what
	// it renders and what its keepalived reports (vipmetrics.go).
	vipInstances, vipMaster, vipConfigRefused prometheus.Gauge
	vipState                                  *prometheus.GaugeVec
}

// NewMetrics creates the series and registers them with reg (the
// controller-runtime registry serves them on /metrics).
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		announcedAddrs: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "herald_speaker_announced_addresses",
			Help: "Addresses this node announces, by mode.",
		}, []string{"mode"}),
		announcedPrefixes: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "herald_speaker_announced_prefixes",
			Help: "BGP routes this node announces because of BgpConf's Service ranges, by kind: " +
				"serviceClusterIPs and serviceExternalIPs count the ranges themselves; clusterIP and externalIP " +
				"count the /32 and /128 routes of externalTrafficPolicy Local Services with a ready endpoint on this node. " +
				"Load-balancer addresses are herald_speaker_announced_addresses.",
		}, []string{"kind"}),
		reconcileErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "herald_speaker_reconcile_errors_total",
			Help: "Reconciles that failed to gather the cluster state or to apply it.",
		}),
		modeReady: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "herald_speaker_mode_ready",
			Help: "1 while the mode's last apply on this node succeeded, 0 while it fails (the error is in the log and, " +
				"when the mode has work on this node, in the readyz check).",
		}, []string{"mode"}),
		PeerSessions: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "herald_speaker_bgp_session_state",
			Help: "BGP session state per peer: 1 on the series of the current state.",
		}, []string{"peer", "state"}),
		layer2LiveNodes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "herald_speaker_layer2_live_nodes",
			Help: "Speakers this node counts live in the Layer2 membership view (their Leases renewed).",
		}),
		layer2Frozen: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "herald_speaker_layer2_view_frozen",
			Help: "1 while this node cannot confirm its own Lease through the API server: its Layer2 view is frozen " +
				"(nobody expires; it yields an address when it hears another node announce it).",
		}),
		vipInstances: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "herald_speaker_vip_instances",
			Help: "VRRP instances (one per VIP) in the keepalived.conf this node last rendered: the VIPs this node may hold.",
		}),
		vipMaster: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "herald_speaker_vip_master",
			Help: "VIPs this node's keepalived holds (VRRP MASTER), as its supervisor reports in state.json.",
		}),
		vipConfigRefused: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "herald_speaker_vip_config_refused",
			Help: "1 while this node's keepalived supervisor reports the keepalived.conf this node last rendered as refused by `keepalived -t`: " +
				"keepalived keeps running the last good config, and the VIPs follow no change made since. 0 once accepted, and while not checked yet.",
		}),
		vipState: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "herald_speaker_vip_state",
			Help: "VRRP instances of this node's keepalived by state (MASTER, BACKUP, FAULT, STOP), as its supervisor reports in state.json; " +
				"all 0 while the file is missing or unreadable.",
		}, []string{"state"}),
	}
	for _, c := range []prometheus.Collector{m.announcedAddrs, m.announcedPrefixes, m.reconcileErrors, m.modeReady, m.PeerSessions, m.layer2LiveNodes, m.layer2Frozen,
		m.vipInstances, m.vipMaster, m.vipConfigRefused, m.vipState} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// rangeKinds are the kinds herald_speaker_announced_prefixes has series
// for; each is set every time, so a kind that goes away reads 0.
var rangeKinds = []RouteKind{RouteServiceClusterIPs, RouteServiceExternalIPs, RouteClusterIP, RouteExternalIP}

// announced records a mode's routes: load-balancer addresses in one gauge,
// the routes BgpConf's Service ranges bring in the other, by kind.
func (m *Metrics) announced(mode string, routes []Route) {
	if m == nil {
		return
	}
	counts := map[RouteKind]int{}
	for _, r := range routes {
		counts[r.Kind]++
	}
	m.announcedAddrs.WithLabelValues(mode).Set(float64(counts[RouteLoadBalancer]))
	for _, k := range rangeKinds {
		m.announcedPrefixes.WithLabelValues(string(k)).Set(float64(counts[k]))
	}
}

// layer2 records the addresses this node answers for and its view.
func (m *Metrics) layer2(owned, live int, frozen bool) {
	if m == nil {
		return
	}
	m.announcedAddrs.WithLabelValues(v1alpha2.ProtocolLayer2).Set(float64(owned))
	m.layer2LiveNodes.Set(float64(live))
	f := 0.0
	if frozen {
		f = 1
	}
	m.layer2Frozen.Set(f)
}

// modeApplied records whether a mode's last Apply succeeded.
func (m *Metrics) modeApplied(mode string, ok bool) {
	if m == nil {
		return
	}
	v := 0.0
	if ok {
		v = 1
	}
	m.modeReady.WithLabelValues(mode).Set(v)
}

func (m *Metrics) reconcileError() {
	if m != nil {
		m.reconcileErrors.Inc()
	}
}

// sessionState sets the series of every state for the peer, so that the
// previous state's series drops to 0 when the state changes.
func (m *Metrics) sessionState(peer, state string) {
	if m == nil {
		return
	}
	for _, s := range []string{"IDLE", "CONNECT", "ACTIVE", "OPENSENT", "OPENCONFIRM", "ESTABLISHED"} {
		v := 0.0
		if s == state {
			v = 1
		}
		m.PeerSessions.WithLabelValues(peer, s).Set(v)
	}
}
