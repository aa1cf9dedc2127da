package speaker

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/internal/bgpconfig"
)

// TestMetricsCountRoutesByKind checks that load-balancer addresses and the
// routes of BgpConf's Service ranges land in their own gauges.
func TestMetricsCountRoutesByKind(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	d := Compute("node1", pools(t), []Service{
		{Key: "a/web", Addrs: addrs("192.0.2.1")},
		{Key: "a/np", ClusterIPs: addrs("10.96.0.10"), LocalTraffic: true, ReadyNodes: []string{"node1"}},
	}, bgpconfig.ServiceCIDRs{ClusterIPs: prefixes("10.96.0.0/12", "fd00:96::/108")})
	m.announced(v1alpha2.ProtocolBGP, d.BGP)
	for _, tt := range []struct {
		name string
		g    prometheus.Gauge
		want float64
	}{
		{`announced_addresses{mode="bgp"}`, m.announcedAddrs.WithLabelValues("bgp"), 1},
		{`announced_prefixes{kind="serviceClusterIPs"}`, m.announcedPrefixes.WithLabelValues("serviceClusterIPs"), 2},
		{`announced_prefixes{kind="clusterIP"}`, m.announcedPrefixes.WithLabelValues("clusterIP"), 1},
		{`announced_prefixes{kind="serviceExternalIPs"}`, m.announcedPrefixes.WithLabelValues("serviceExternalIPs"), 0},
		{`announced_prefixes{kind="externalIP"}`, m.announcedPrefixes.WithLabelValues("externalIP"), 0},
	} {
		if got := gaugeValue(t, tt.g); got != tt.want {
			t.Errorf("%s = %v, want %v", tt.name, got, tt.want)
		}
	}
	// The ranges go: their series read 0 rather than keep the old count.
	m.announced(v1alpha2.ProtocolBGP, nil)
	if got := gaugeValue(t, m.announcedPrefixes.WithLabelValues("serviceClusterIPs")); got != 0 {
		t.Errorf("serviceClusterIPs after removal = %v, want 0", got)
	}
}

func gaugeValue(t *testing.T, g prometheus.Gauge) float64 {
	t.Helper()
	var m dto.Metric
	if err := g.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetGauge().GetValue()
}
