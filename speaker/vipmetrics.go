package speaker

import (
	"github.com/herald-lb/herald/keepalived"
	"github.com/herald-lb/herald/vipdir"
)

// vipStates are the states herald_speaker_vip_state has series for; each
// is set every time, so a state nobody is in any more reads 0. DELETED is
// not among them: an instance a reload removed leaves the state file.
var vipStates = []keepalived.State{keepalived.StateMaster, keepalived.StateBackup, keepalived.StateFault, keepalived.StateStop}

// vipRendered records how many VRRP instances this node's last rendered
// keepalived.conf runs.
func (m *Metrics) vipRendered(instances int) {
	if m == nil {
		return
	}
	m.vipInstances.Set(float64(instances))
}

// vipReported records the states this node's keepalived reports; nil (no
// readable state file) counts nothing.
func (m *Metrics) vipReported(s vipdir.States) {
	if m == nil {
		return
	}
	counts := map[keepalived.State]int{}
	for _, st := range s {
		counts[st]++
	}
	for _, st := range vipStates {
		m.vipState.WithLabelValues(string(st)).Set(float64(counts[st]))
	}
	m.vipMaster.Set(float64(counts[keepalived.StateMaster]))
}

// vipRefused records whether the config this node last rendered is
// refused.
func (m *Metrics) vipRefused(refused bool) {
	if m == nil {
		return
	}
	v := 0.0
	if refused {
		v = 1
	}
	m.vipConfigRefused.Set(v)
}
