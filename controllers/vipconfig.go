package controllers

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/herald-lb/herald/api/v1alpha2"
)

// Reasons of a vip Eip's KeepalivedConfigAccepted condition.
const (
	// ReasonKeepalivedConfigsAccepted: no live speaker reports a refusal.
	ReasonKeepalivedConfigsAccepted = "Accepted"
	// ReasonKeepalivedConfigRefused: keepalived on some node refused the
	// config rendered there (the speakers' event on the Eip has the same
	// reason and quotes keepalived).
	ReasonKeepalivedConfigRefused = "KeepalivedConfigRefused"
)

// vipRefusedBy returns the nodes with a live Lease whose speaker reports
// that keepalived refused the config of eip's instances there, sorted.
// A node whose speaker is gone drops out with its Lease, as it does from
// the Ready verdict: nothing then tells whether it still holds.
func (v *speakerView) vipRefusedBy(eip string, now time.Time) []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	var nodes []string
	for _, l := range v.leases {
		if l.live(now) && slices.Contains(l.vipRefused, eip) {
			nodes = append(nodes, l.node)
		}
	}
	slices.Sort(nodes)
	return nodes
}

// applyVIPConfigs sets a valid vip Eip's KeepalivedConfigAccepted
// condition from the nodes whose keepalived refused its config (nil: none),
// and removes it from any other Eip. The speakers tell the controller
// through their Leases, since an Eip's status has one writer: the
// controller, which has no view of the nodes' keepalived.
func applyVIPConfigs(eip *v1alpha2.Eip, st *v1alpha2.EipStatus, refusedBy []string) {
	if eip.Spec.Protocol != v1alpha2.ProtocolVIP || !st.Ready {
		meta.RemoveStatusCondition(&st.Conditions, v1alpha2.ConditionKeepalivedConfigAccepted)
		return
	}
	c := metav1.Condition{
		Type: v1alpha2.ConditionKeepalivedConfigAccepted, ObservedGeneration: eip.Generation,
		Status: metav1.ConditionTrue, Reason: ReasonKeepalivedConfigsAccepted,
		Message: "no node reports that keepalived refused the config rendered for this pool's addresses",
	}
	if len(refusedBy) > 0 {
		c.Status, c.Reason = metav1.ConditionFalse, ReasonKeepalivedConfigRefused
		c.Message = fmt.Sprintf("keepalived on node(s) %s refused the config rendered there for this pool's addresses: "+
			"it keeps running the last good one, so changes to them since do not take effect on those nodes. "+
			"The speakers' %s events on this Eip quote keepalived (kubectl describe eip %s); once the cause is fixed, "+
			"the next config is checked at once", strings.Join(refusedBy, ", "), ReasonKeepalivedConfigRefused, eip.Name)
	}
	meta.SetStatusCondition(&st.Conditions, c)
}
