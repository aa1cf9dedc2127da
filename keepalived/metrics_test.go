package keepalived

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
)

// gather renders reg's series named name as "labels value" lines, sorted.
func gather(t *testing.T, reg *prometheus.Registry, name string) []string {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			v := m.GetGauge().GetValue() + m.GetCounter().GetValue()
			lines = append(lines, strings.Join(labels, ",")+" "+strconv.FormatFloat(v, 'g', -1, 64))
		}
	}
	slices.Sort(lines)
	return lines
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []EventKind{EventStarted, EventRefused, EventReloaded, EventReloaded, EventExited} {
		m.Event(Event{Kind: k})
	}
	vip1, vip2 := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::1")
	m.Notification(Notification{VIP: vip1, State: StateBackup, Priority: 254})
	m.Notification(Notification{VIP: vip1, State: StateMaster, Priority: 254})
	m.Notification(Notification{VIP: vip2, State: StateFault, Priority: 253})
	m.Notification(Notification{VIP: vip2, State: StateDeleted, Priority: 253})

	tests := map[string][]string{
		"herald_keepalived_events_total": {
			"kind=Exited 1", "kind=Refused 1", "kind=Reloaded 2", "kind=Started 1",
		},
		// vip2 was deleted: its series are gone.
		"herald_keepalived_vip_state": {
			"ip=192.0.2.1,state=BACKUP 0", "ip=192.0.2.1,state=FAULT 0", "ip=192.0.2.1,state=MASTER 1",
		},
		"herald_keepalived_vip_transitions_total": {
			"state=BACKUP 1", "state=DELETED 1", "state=FAULT 1", "state=MASTER 1",
		},
	}
	for name, want := range tests {
		if diff := cmp.Diff(want, gather(t, reg, name)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", name, diff)
		}
	}

	var none *Metrics // records nothing, and does not panic
	none.Event(Event{Kind: EventStarted})
	none.Notification(Notification{VIP: vip1, State: StateMaster})
}
